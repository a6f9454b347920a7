package zone

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// bigZone is a zone of n hosts, each with an address and an MX, and a
// wildcard.
func bigZone(b *testing.B, n int) *Zone {
	var sb strings.Builder
	sb.WriteString("$TTL 3600\n@ SOA ns1 host 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n*.w A 192.0.2.2\n")
	for i := range n {
		h := "h" + strconv.Itoa(i)
		sb.WriteString(h + " A 192.0.2.1\n" + h + " MX 10 mail\n")
	}
	return build(b, "example.org.", sb.String())
}

func BenchmarkLookup(b *testing.B) {
	z := bigZone(b, 10000)
	for _, name := range []string{"example.org.", "h5000.example.org.", "x.y.w.example.org.", "nope.example.org."} {
		b.Run(name, func(b *testing.B) {
			var buf [MaxLabels]uint16
			starts := LabelStarts(name, &buf)
			b.ReportAllocs()
			for b.Loop() {
				z.LookupStarts(name, starts)
			}
		})
	}
}

func BenchmarkBuild(b *testing.B) {
	z := bigZone(b, 10000)
	var rrs []dns.RR
	for s := range z.All {
		rrs = append(rrs, s.RRs()...)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build("example.org.", rrs, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildDeep indexes 2,000 random names 118 labels deep below the
// apex, which make some 230,000 names with their empty non-terminals: the
// cost must be linear in the names (issue 10: it was quadratic).
func BenchmarkBuildDeep(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	soa, _ := dns.NewRR("example.org. 300 SOA ns1.example.org. host.example.org. 1 2 3 4 5")
	rrs := []dns.RR{soa}
	for range 2000 {
		labels := make([]string, 118)
		for i := range labels {
			labels[i] = string(rune('a' + rng.IntN(10)))
		}
		rr, _ := dns.NewRR(strings.Join(labels, ".") + ".example.org. 300 A 192.0.2.1")
		rrs = append(rrs, rr)
	}
	slices.SortStableFunc(rrs, func(a, b dns.RR) int { return strings.Compare(a.Header().Name, b.Header().Name) })
	var names int
	for b.Loop() {
		z, err := Build("example.org.", rrs, 0)
		if err != nil {
			b.Fatal(err)
		}
		names = z.Names()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(names), "ns/name")
	b.ReportMetric(float64(names), "names")
}
