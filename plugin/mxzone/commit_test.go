package mxzone

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// TestGroupCommit: every wait returns only after a sync that started after
// it was called (what it wrote before is on disk), many waits share syncs,
// and a failed sync fails the waits it covered.
func TestGroupCommit(t *testing.T) {
	var written, started, synced atomic.Int64 // writes done; writes seen when a sync started; by the last sync done
	var syncs atomic.Int64
	c := newGroupCommit(t.TempDir())
	c.sync = func(string) error {
		started.Store(written.Load())
		syncs.Add(1)
		synced.Store(started.Load())
		return nil
	}
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := written.Add(1) // a journal write
			if err := c.wait(); err != nil {
				t.Error(err)
			}
			if synced.Load() < mine {
				t.Errorf("wait returned before a sync covered write %d (synced up to %d)", mine, synced.Load())
			}
		}()
	}
	wg.Wait()
	if n := syncs.Load(); n < 1 || n > 64 {
		t.Fatalf("%d syncs for 64 waits", n)
	}
	c.sync = func(string) error { return errors.New("disk full") }
	if err := c.wait(); err == nil {
		t.Fatal("a failed sync was not reported")
	}
}
