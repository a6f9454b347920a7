package mxzone

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBusyFileDoesNotHoldBackOthers: while one zone file is rewritten every
// 10 ms, an edit of another zone is live within a second (issue 10: the
// debounce timer was shared, and the other edit waited for the rescan).
func TestBusyFileDoesNotHoldBackOthers(t *testing.T) {
	dir := writeZones(t, map[string]string{
		"busy.example.zone":  customer("busy.example.", "1"),
		"quiet.example.zone": customer("quiet.example.", "1"),
	})
	m := &MXZone{Origins: []string{"."}, server: "dns://busy", interval: time.Hour,
		loader: &loader{dir: dir, origins: []string{"."}, policy: DefaultPolicy(), limits: DefaultLimits()}}
	if err := m.OnStartup(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.OnShutdown() })
	stop := make(chan struct{})
	var writes atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 2; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				writeFile(t, dir, "busy.example.zone", customer("busy.example.", strconv.Itoa(i)))
				writes.Add(1)
			}
		}
	}()
	t.Cleanup(func() { close(stop); wg.Wait() })
	serial := func(origin string) uint32 {
		if e := m.gen.Load().zones[origin]; e != nil && e.zone != nil {
			return e.zone.Serial()
		}
		return 0
	}
	// Bounds here are timeouts, not speeds (the figure is logged): what
	// must hold is that the quiet edit goes live while the busy file keeps
	// changing (its writer stops only at the test's end).
	eventually(t, 30*time.Second, "the busy writer going", func() bool { return writes.Load() >= 5 })
	writeFile(t, dir, "quiet.example.zone", customer("quiet.example.", "2"))
	start := time.Now()
	eventually(t, 30*time.Second, "the quiet zone's edit", func() bool { return serial("quiet.example.") == 2 })
	t.Logf("edit live after %v while another file changed every 10 ms", time.Since(start).Round(time.Millisecond))
}

// TestLargeFileReadAside: while a large zone file (over asideBytes) is being
// read, an edit of another zone goes live: the large file is read outside
// the reload lock, and its new version is published when it is ready.
func TestLargeFileReadAside(t *testing.T) {
	dir := writeZones(t, map[string]string{
		"big.example.zone":   customer("big.example.", "1"),
		"small.example.zone": customer("small.example.", "1"),
	})
	m := &MXZone{Origins: []string{"."}, server: "dns://aside", interval: time.Hour,
		loader: &loader{dir: dir, origins: []string{"."}, policy: DefaultPolicy(), limits: DefaultLimits()}}
	if err := m.OnStartup(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.OnShutdown() })
	// A file the general parser reads (TTL units), large enough to take a
	// while: 150,000 records, about 10 MB.
	lines := make([]string, 0, 150000)
	for i := range 150000 {
		lines = append(lines, "t"+strconv.Itoa(i)+" 1h TXT \""+strings.Repeat("x", 40)+"\"")
	}
	m.loader.limits.Records = 200000
	big := customer("big.example.", "2", lines...)
	if len(big) <= asideBytes {
		t.Fatalf("the big file is only %d bytes", len(big))
	}
	serial := func(origin string) uint32 {
		if e := m.gen.Load().zones[origin]; e != nil && e.zone != nil {
			return e.zone.Serial()
		}
		return 0
	}
	writeFile(t, dir, "big.example.zone", big)
	writeFile(t, dir, "small.example.zone", customer("small.example.", "2"))
	eventually(t, 10*time.Second, "the small edit", func() bool { return serial("small.example.") == 2 })
	if serial("big.example.") != 1 {
		t.Fatal("the small edit went live only with the large file: it waited for it to be read")
	}
	eventually(t, 60*time.Second, "the large file's new version", func() bool { return serial("big.example.") == 2 })
}
