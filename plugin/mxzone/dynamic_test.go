package mxzone

import (
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/journal"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"

	"github.com/miekg/dns"
)

func recordsOf(t *testing.T, list ...string) []zonefile.Record {
	var out []zonefile.Record
	for _, s := range list {
		out = append(out, zonefile.Record{RR: mustRR(t, s)})
	}
	return out
}

func texts(recs []zonefile.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.RR.String())
	}
	sort.Strings(out)
	return out
}

// TestDynamicMerge: a file edit is applied as a difference to the zone
// UPDATE changed (as Knot's zonefile-load: difference): what the file did
// not touch keeps the update's changes.
func TestDynamicMerge(t *testing.T) {
	const soa = "z. 3600 IN SOA ns. h. 1 1 1 1 1"
	// The update deleted b and added c, on top of a file of a and b.
	d := &dynamic{del: []dns.RR{mustRR(t, "b.z. 60 IN A 192.0.2.2")}, add: []dns.RR{mustRR(t, "c.z. 60 IN A 192.0.2.3")}}
	for _, c := range []struct {
		name string
		file []string
		want []string
	}{
		{"file unchanged", []string{soa, "a.z. 60 IN A 192.0.2.1", "b.z. 60 IN A 192.0.2.2"},
			[]string{soa, "a.z. 60 IN A 192.0.2.1", "c.z. 60 IN A 192.0.2.3"}},
		{"file adds d", []string{soa, "a.z. 60 IN A 192.0.2.1", "b.z. 60 IN A 192.0.2.2", "d.z. 60 IN A 192.0.2.4"},
			[]string{soa, "a.z. 60 IN A 192.0.2.1", "c.z. 60 IN A 192.0.2.3", "d.z. 60 IN A 192.0.2.4"}},
		{"file drops b: the deletion is done with", []string{soa, "a.z. 60 IN A 192.0.2.1"},
			[]string{soa, "a.z. 60 IN A 192.0.2.1", "c.z. 60 IN A 192.0.2.3"}},
		{"file writes c itself", []string{soa, "a.z. 60 IN A 192.0.2.1", "b.z. 60 IN A 192.0.2.2", "c.z. 60 IN A 192.0.2.3"},
			[]string{soa, "a.z. 60 IN A 192.0.2.1", "c.z. 60 IN A 192.0.2.3"}},
		{"file writes c with another TTL: the update's stays", []string{soa, "c.z. 300 IN A 192.0.2.3"},
			[]string{soa, "c.z. 60 IN A 192.0.2.3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := recordsOf(t, c.file...)
			del, add := d.pruned(file)
			got := texts(applyDelta(file, del, add))
			want := texts(recordsOf(t, c.want...))
			if !slices.Equal(got, want) {
				t.Fatalf("got  %q\nwant %q", got, want)
			}
		})
	}
	t.Run("the pruned delta forgets what the file did", func(t *testing.T) {
		del, add := d.pruned(recordsOf(t, soa, "a.z. 60 IN A 192.0.2.1", "c.z. 60 IN A 192.0.2.3"))
		if len(del) != 0 || len(add) != 0 {
			t.Fatalf("del %v add %v", del, add)
		}
	})
}

func TestCompose(t *testing.T) {
	a := mustRR(t, "a.z. 60 IN A 192.0.2.1")
	a2 := mustRR(t, "a.z. 300 IN A 192.0.2.1")
	b := mustRR(t, "b.z. 60 IN A 192.0.2.2")
	soa1 := mustRR(t, "z. 3600 IN SOA ns. h. 1 1 1 1 1")
	soa2 := mustRR(t, "z. 3600 IN SOA ns. h. 2 1 1 1 1")
	file := recordsOf(t, soa1.String(), a.String())
	served := func(d *journal.Delta) []string {
		dyn := &dynamic{del: d.Del, add: d.Add}
		del, add := dyn.pruned(file)
		return texts(applyDelta(file, del, add))
	}
	check := func(what string, d *journal.Delta, nDel, nAdd int, want ...string) {
		t.Helper()
		if len(d.Del) != nDel || len(d.Add) != nAdd {
			t.Errorf("%s: del %v add %v", what, d.Del, d.Add)
		}
		if got := served(d); !slices.Equal(got, texts(recordsOf(t, want...))) {
			t.Errorf("%s: served %q", what, got)
		}
	}
	d := compose(nil, nil, []dns.RR{b})
	check("b added", d, 0, 1, soa1.String(), a.String(), b.String())
	d = compose(d, []dns.RR{a, soa1}, []dns.RR{soa2}) // the serial alone is no change
	check("the file's a deleted", d, 1, 1, soa1.String(), b.String())
	d = compose(d, []dns.RR{b}, nil)
	check("b, the update's own, deleted", d, 1, 0, soa1.String())
	d = compose(d, nil, []dns.RR{a2})
	check("a back with another TTL", d, 1, 1, soa1.String(), a2.String())
	d = compose(d, []dns.RR{a2}, nil)
	check("that deleted: the file's a stays deleted", d, 1, 0, soa1.String())
	d = compose(d, nil, []dns.RR{a})
	check("a back as the file has it", d, 0, 0, soa1.String(), a.String())
}

// TestUpdateSerialPolicy: every served change gets a newer serial (RFC 1982), by
// the configured policy; a newer serial in the file wins.
func TestUpdateSerialPolicy(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, c := range []struct {
		policy           serialPolicy
		file, last, want uint32
	}{
		{serialIncrement, 0, 10, 11},
		{serialIncrement, 5, 10, 11},           // a file edit with a lower serial
		{serialIncrement, 20, 10, 20},          // the file's newer serial
		{serialIncrement, 0, 4294967295, 0},    // wraps, as RFC 1982 allows
		{serialIncrement, 3, 0, 3},             // nothing served before
		{serialUnixtime, 0, 10, 1_800_000_000}, // the time, newer than 10
		{serialUnixtime, 0, 1_800_000_005, 1_800_000_006},
		{serialUnixtime, 1_900_000_000, 1_800_000_005, 1_900_000_000},
	} {
		u := &updater{serial: c.policy}
		got := u.nextSerial(c.file, c.last, now)
		if got != c.want {
			t.Errorf("policy %d, file %d, last %d: %d, want %d", c.policy, c.file, c.last, got, c.want)
		}
		if c.last != 0 && !serialNewer(got, c.last) {
			t.Errorf("policy %d, file %d, last %d: %d is not newer", c.policy, c.file, c.last, got)
		}
	}
}
