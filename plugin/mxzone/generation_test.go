package mxzone

import (
	"maps"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestCountBelow(t *testing.T) {
	steps := []struct {
		name           string
		added, removed []string
		want           map[string]int
	}{
		{"first load", []string{"a.example.", "b.a.example.", "other.test."}, nil,
			map[string]int{"example.": 2, "a.example.": 1, "test.": 1, ".": 3}},
		{"the root zone is below nothing", []string{"."}, nil,
			map[string]int{"example.": 2, "a.example.": 1, "test.": 1, ".": 3}},
		{"a child zone goes", nil, []string{"b.a.example."},
			map[string]int{"example.": 1, "test.": 1, ".": 2}},
		{"the rest go", nil, []string{"a.example.", "other.test.", "."}, map[string]int{}},
	}
	var below map[string]int
	for _, st := range steps {
		before := maps.Clone(below)
		next := countBelow(below, st.added, st.removed)
		if !maps.Equal(next, st.want) {
			t.Fatalf("%s: %v, want %v", st.name, next, st.want)
		}
		if !maps.Equal(below, before) {
			t.Fatalf("%s: the previous generation's map changed", st.name)
		}
		below = next
	}
	below = map[string]int{"example.": 1}
	if got := countBelow(below, nil, nil); !maps.Equal(got, below) {
		t.Fatalf("nothing added or removed: %v, want %v", got, below)
	}
}

// TestAdditionalFromAChildZone: the addresses of an MX target come from the
// zone that is authoritative for it, also when that is a zone served below
// the one answering, and only then.
func TestAdditionalFromAChildZone(t *testing.T) {
	parent := soaZone("parent.example.", "@ MX 10 mail.sub", "sub NS ns1.sub", "ns1.sub A 192.0.2.7")
	child := soaZone("sub.parent.example.", "mail A 192.0.2.99")
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string // address of mail.sub.parent.example. in the additional section; "": none
	}{
		{"child served", map[string]string{"parent.example.zone": parent, "sub.parent.example.zone": child}, "192.0.2.99"},
		{"child not served", map[string]string{"parent.example.zone": parent}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestPlugin(t, writeZones(t, tc.files), DefaultPolicy())
			msg, _ := query(t, m, "parent.example.", dns.TypeMX)
			got := ""
			for _, rr := range msg.Extra {
				if a, ok := rr.(*dns.A); ok && a.Hdr.Name == "mail.sub.parent.example." {
					got = a.A.String()
				}
			}
			if got != tc.want {
				t.Fatalf("additional address %q, want %q:\n%v", got, tc.want, msg)
			}
		})
	}
}

// TestRefusedEditNamesFewDependents: a provider edit that would break many
// customers is refused with one finding that names the first few and counts
// the rest, not one finding (and log line) per customer.
func TestRefusedEditNamesFewDependents(t *testing.T) {
	files := map[string]string{"example.net.zone": provider}
	for _, c := range []string{"a", "b", "c", "d", "e"} {
		files[c+".example.zone"] = soaZone(c+".example.", "@ MX 10 mx1.example.net.")
	}
	dir := writeZones(t, files)
	m := newTestPlugin(t, dir, DefaultPolicy())
	m.loader.protected = map[string]bool{"example.net.": true}
	writeFile(t, dir, "example.net.zone", strings.Replace(provider, "mx1 A 192.0.2.25\nmx1 AAAA 2001:db8::25\n", "", 1))
	if err := m.reloadNames([]string{"example.net.zone"}); err != nil {
		t.Fatal(err)
	}
	e := m.gen.Load().zones["example.net."]
	var refusals []Finding
	for _, f := range e.findings {
		if strings.HasPrefix(f.Message, "edit refused") {
			refusals = append(refusals, f)
		}
	}
	want := "edit refused: 5 zones depend on it (a.example., b.example., c.example. and 2 more): "
	if e.status != outcomeLastGood || len(refusals) != 1 || !strings.HasPrefix(refusals[0].Message, want) ||
		!strings.Contains(refusals[0].Message, "a.example.zone:5: exchange mx1.example.net. does not exist in zone example.net.") {
		t.Fatalf("status %s, refusals %v; want one starting %q", e.status, refusals, want)
	}
}
