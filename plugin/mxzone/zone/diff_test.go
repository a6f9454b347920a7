package zone

import (
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestDiff(t *testing.T) {
	build := func(list ...string) *Zone {
		var rrs []dns.RR
		for _, s := range list {
			rr, err := dns.NewRR(s)
			if err != nil {
				t.Fatal(err)
			}
			rrs = append(rrs, rr)
		}
		Sort(rrs)
		z, err := Build("z.", rrs, 0)
		if err != nil {
			t.Fatal(err)
		}
		return z
	}
	old := build("z. 60 IN SOA ns. h. 1 1 1 1 1", "a.z. 60 IN A 192.0.2.1", "a.z. 60 IN A 192.0.2.2", "b.z. 60 IN TXT \"x\"", "c.z. 60 IN A 192.0.2.9")
	next := build("z. 60 IN SOA ns. h. 2 1 1 1 1", "a.z. 60 IN A 192.0.2.1", "a.z. 60 IN A 192.0.2.3", "b.z. 300 IN TXT \"x\"", "d.z. 60 IN A 192.0.2.4")
	del, add := Diff(old, next)
	str := func(rrs []dns.RR) string {
		var out []string
		for _, rr := range rrs {
			out = append(out, strings.Join(strings.Fields(rr.String()), " "))
		}
		sort.Strings(out)
		return strings.Join(out, "; ")
	}
	if got, want := str(del), `a.z. 60 IN A 192.0.2.2; b.z. 60 IN TXT "x"; c.z. 60 IN A 192.0.2.9`; got != want {
		t.Errorf("deleted %s\nwant    %s", got, want)
	}
	if got, want := str(add), `a.z. 60 IN A 192.0.2.3; b.z. 300 IN TXT "x"; d.z. 60 IN A 192.0.2.4`; got != want {
		t.Errorf("added %s\nwant  %s", got, want)
	}
	if del, add := Diff(old, old); len(del)+len(add) != 0 {
		t.Errorf("a zone differs from itself: %v %v", del, add)
	}
	if del, add := Diff(nil, old); len(del) != 0 || len(add) != 4 {
		t.Errorf("from nothing: %v %v", del, add)
	}
}
