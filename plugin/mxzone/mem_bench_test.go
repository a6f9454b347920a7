package mxzone

import (
	"flag"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
)

var heapProfile = flag.String("heapprofile", "", "write the live heap of BenchmarkMemoryPerZone here")

// BenchmarkMemoryPerZone reports the live heap a loaded zone costs.
func BenchmarkMemoryPerZone(b *testing.B) {
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, g, _ := loadedDir(b)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(g.zones)), "bytes/zone")
		if *heapProfile != "" {
			f, err := os.Create(*heapProfile)
			if err != nil {
				b.Fatal(err)
			}
			pprof.WriteHeapProfile(f)
			f.Close()
		}
		runtime.KeepAlive(g)
	}
}
