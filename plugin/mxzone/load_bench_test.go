package mxzone

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/coredns-mx/coredns-mx/internal/zonegen"
)

var benchZones = flag.Int("zones", 1000, "zones for BenchmarkLoad")

// BenchmarkLoad measures the first load of a directory of typical customer
// zones: scan, parse, validate, cross-check and index.
func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	if err := zonegen.Write(dir, *benchZones); err != nil {
		b.Fatal(err)
	}
	l := &loader{dir: dir, origins: []string{"."}, policy: DefaultPolicy(), limits: DefaultLimits()}
	b.ReportAllocs()
	for b.Loop() {
		g, _, err := l.firstBuild()
		if err != nil || len(g.zones) != *benchZones {
			b.Fatalf("%v: %d zones", err, len(g.zones))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(*benchZones), "ns/zone")
}

// loadedDir writes and loads *benchZones zones, once per benchmark.
func loadedDir(b *testing.B) (*loader, *generation, string) {
	b.Helper()
	dir := b.TempDir()
	if err := zonegen.Write(dir, *benchZones); err != nil {
		b.Fatal(err)
	}
	l := &loader{dir: dir, origins: []string{"."}, policy: DefaultPolicy(), limits: DefaultLimits()}
	g, _, err := l.firstBuild()
	if err != nil {
		b.Fatal(err)
	}
	return l, g, dir
}

// BenchmarkRescanUnchanged is the safety-net rescan when nothing changed:
// rotating (file-system notifications work) and full (they do not).
func BenchmarkRescanUnchanged(b *testing.B) {
	l, g, _ := loadedDir(b)
	for _, mode := range []scanMode{scanRotating, scanAll} {
		b.Run([]string{"all", "rotating"}[mode], func(b *testing.B) {
			for b.Loop() {
				next, _, err := l.rebuild(g, nil, mode, nil)
				if err != nil || next != g {
					b.Fatalf("%v: a new generation for nothing", err)
				}
			}
		})
	}
}

// BenchmarkEditOne is one edited zone file, read after its file event.
func BenchmarkEditOne(b *testing.B) {
	l, g, dir := loadedDir(b)
	origin := zonegen.Origin(*benchZones / 2)
	name := origin + "zone"
	i := 0
	for b.Loop() {
		i++
		text := zonegen.Zone(origin) + fmt.Sprintf("edit%d A 192.0.2.1\n", i)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
		next, rep, err := l.rebuild(g, []string{name}, scanNamed, nil)
		if err != nil || len(rep.changes) != 1 || next.zones[origin].status != outcomeServed {
			b.Fatalf("%v: %d changes", err, len(rep.changes))
		}
		g = next
	}
}

// BenchmarkStartup is the first load as the server does it: build, log,
// metrics, publish.
func BenchmarkStartup(b *testing.B) {
	dir := b.TempDir()
	if err := zonegen.Write(dir, *benchZones); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		m := &MXZone{Origins: []string{"."}, server: "dns://bench",
			loader: &loader{dir: dir, origins: []string{"."}, policy: DefaultPolicy(), limits: DefaultLimits()}}
		if err := m.reload(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(*benchZones), "ns/zone")
}

// BenchmarkCheck is what "coredns-mx check DIR" does before it prints:
// read, check on their own and together, infos included.
func BenchmarkCheck(b *testing.B) {
	dir := b.TempDir()
	if err := zonegen.Write(dir, *benchZones); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Check([]string{dir}, DefaultPolicy(), DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(*benchZones), "ns/zone")
}
