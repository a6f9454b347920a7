package mxzone

import (
	"flag"
	"testing"

	"github.com/coredns-mx/coredns-mx/bench/zonegen"
)

var benchZones = flag.Int("zones", 1000, "zones for BenchmarkLoad")

// BenchmarkLoad measures the first load of a directory of typical customer
// zones: scan, parse, validate, cross-check and index.
func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	if err := zonegen.Write(dir, *benchZones); err != nil {
		b.Fatal(err)
	}
	l := &loader{dir: dir, origins: []string{"."}, policy: DefaultPolicy(), maxSize: defaultMaxFileBytes}
	b.ReportAllocs()
	for b.Loop() {
		g, _, err := l.build(nil, nil)
		if err != nil || len(g.zones) != *benchZones {
			b.Fatalf("%v: %d zones", err, len(g.zones))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(*benchZones), "ns/zone")
}
