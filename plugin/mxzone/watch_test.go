package mxzone

import (
	"strconv"
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
	eventually(t, time.Second, "the busy writer going", func() bool { return writes.Load() >= 5 })
	writeFile(t, dir, "quiet.example.zone", customer("quiet.example.", "2"))
	start := time.Now()
	eventually(t, time.Second, "the quiet zone's edit", func() bool { return serial("quiet.example.") == 2 })
	t.Logf("edit live after %v while another file changed every 10 ms", time.Since(start).Round(time.Millisecond))
}
