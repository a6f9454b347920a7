package zone

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestCompareCanonical: the canonical order of RFC 4034 section 6.1, with
// its own example, and escapes read as the octets they stand for.
func TestCompareCanonical(t *testing.T) {
	// RFC 4034 section 6.1, in order.
	ordered := []string{"example.", "a.example.", "yljkjljk.a.example.", "z.a.example.", "zabc.a.example.",
		"z.example.", "\\001.z.example.", "*.z.example.", "\\200.z.example."}
	for i := range ordered {
		for j := range ordered {
			got := CompareCanonical(ordered[i], ordered[j])
			if (i < j) != (got < 0) || (i == j) != (got == 0) {
				t.Errorf("CompareCanonical(%q, %q) = %d", ordered[i], ordered[j], got)
			}
		}
	}
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"A.example.", "a.example.", 0},
		{"\\065.example.", "a.example.", 0},
		{"a\\.b.example.", "a.b.example.", -1}, // the label "a.b" against the label "b"
		{"ab.example.", "a.example.", 1},
		{"\\000.example.", "example.", 1},
	} {
		if got := CompareCanonical(c.a, c.b); (got > 0) != (c.want > 0) || (got == 0) != (c.want == 0) {
			t.Errorf("CompareCanonical(%q, %q) = %d, want sign of %d", c.a, c.b, got, c.want)
		}
	}
}

// signedFixture builds a zone holding an NSEC or NSEC3 chain over names.
func signedFixture(t *testing.T, nsec3 bool, names []string) *Zone {
	t.Helper()
	origin := "example."
	var rrs []dns.RR
	add := func(s string) {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		rrs = append(rrs, rr)
	}
	add(origin + " 3600 IN SOA ns host 1 2 3 4 300")
	all := append([]string{origin}, names...)
	slices.SortFunc(all, CompareCanonical)
	if nsec3 {
		add(origin + " 0 IN NSEC3PARAM 1 0 0 -")
		var hashes []string
		for _, n := range all {
			hashes = append(hashes, strings.ToLower(dns.HashName(n, dns.SHA1, 0, "")))
		}
		slices.Sort(hashes)
		for i, h := range hashes {
			add(fmt.Sprintf("%s.%s 300 IN NSEC3 1 0 0 - %s A", h, origin, strings.ToUpper(hashes[(i+1)%len(hashes)])))
		}
	} else {
		for i, n := range all {
			add(fmt.Sprintf("%s 300 IN NSEC %s A NSEC", n, all[(i+1)%len(all)]))
		}
	}
	Sort(rrs)
	z, err := Build(origin, rrs, 0)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// TestChainCovering: the record Covering returns matches or covers the
// name, as miekg/dns's own NSEC3 Match and Cover say, and for NSEC as the
// canonical order says; for names in the chain, in between, before and
// after.
func TestChainCovering(t *testing.T) {
	names := []string{"a.example.", "b.example.", "x.b.example.", "*.w.example.", "z.example.", "\\200.example."}
	probes := append(slices.Clone(names), "example.", "0.example.", "aa.example.", "c.b.example.", "y.w.example.", "zz.example.", "\\255.example.")
	for _, nsec3 := range []bool{false, true} {
		z := signedFixture(t, nsec3, names)
		c := NewChain(z)
		if c.Empty() || c.NSEC3() != nsec3 {
			t.Fatalf("nsec3=%v: chain empty or of the wrong kind", nsec3)
		}
		for _, p := range probes {
			n, exact := c.Covering(p)
			if nsec3 {
				set, _ := n.Set(dns.TypeNSEC3)
				r := set.RRs()[0].(*dns.NSEC3)
				if exact != r.Match(p) || !exact && !r.Cover(p) {
					t.Errorf("nsec3 %s: %v (exact %v) neither matches nor covers", p, r, exact)
				}
				continue
			}
			set, _ := n.Set(dns.TypeNSEC)
			r := set.RRs()[0].(*dns.NSEC)
			inChain := slices.Contains(names, p) || p == "example."
			covers := CompareCanonical(r.Hdr.Name, p) < 0 &&
				(CompareCanonical(p, r.NextDomain) < 0 || r.NextDomain == "example.")
			if exact != inChain || exact && r.Hdr.Name != p || !exact && !covers {
				t.Errorf("nsec %s: %v (exact %v)", p, r, exact)
			}
		}
	}
}

// TestBinaryRoundTrip: a zone written by AppendBinary reads back the same;
// any cut is refused.
func TestBinaryRoundTrip(t *testing.T) {
	z := signedFixture(t, true, []string{"a.example.", "b.example."})
	b := z.AppendBinary(nil)
	back, err := ParseBinary(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Digest() != z.Digest() || back.Origin() != z.Origin() || back.Serial() != z.Serial() || back.Len() != z.Len() {
		t.Fatalf("the zone read back differs")
	}
	var got, want []string
	for set := range back.All {
		for _, rr := range set.RRs() {
			got = append(got, rr.String())
		}
	}
	for set := range z.All {
		for _, rr := range set.RRs() {
			want = append(want, rr.String())
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("records read back:\n%v\nwant\n%v", got, want)
	}
	for i := range len(b) {
		if _, err := ParseBinary(b[:i]); err == nil {
			t.Fatalf("cut at %d of %d: accepted", i, len(b))
		}
	}
}

// FuzzParseBinary: whatever the bytes, ParseBinary returns an error or a
// zone whose look-ups do not panic.
func FuzzParseBinary(f *testing.F) {
	f.Add(signedFixture(&testing.T{}, false, []string{"a.example."}).AppendBinary(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		z, err := ParseBinary(b)
		if err != nil {
			return
		}
		for set := range z.All {
			set.RRs()
		}
		z.Lookup("a.example.")
		NewChain(z).Covering("b.example.")
	})
}
