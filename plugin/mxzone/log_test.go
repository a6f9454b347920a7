package mxzone

import (
	"bytes"
	golog "log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer captures what the plugin logs (clog writes through the standard
// logger).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

func captureLog(t *testing.T) *logBuffer {
	t.Helper()
	b := &logBuffer{}
	golog.SetOutput(b)
	t.Cleanup(func() { golog.SetOutput(os.Stderr) })
	return b
}

// TestFindingsLoggedOncePerFileChange: a broken file is logged with its
// FILE:LINE when it changes, not again on every rescan, and again when it
// changes once more.
func TestFindingsLoggedOncePerFileChange(t *testing.T) {
	logs := captureLog(t)
	dir := writeZones(t, map[string]string{
		"example.net.zone": provider,
		"c.example.zone":   soaZone("c.example.", "@ MX 10 alias.example.net."),
		"bad..zone.zone":   "junk\n",
	})
	m := newTestPlugin(t, dir, DefaultPolicy())
	first := logs.take()
	want := filepath.Join(dir, "c.example.zone") + ":5: error: c.example.: exchange alias.example.net. in zone example.net. is a CNAME"
	if !strings.Contains(first, want) {
		t.Fatalf("first load did not log %q:\n%s", want, first)
	}
	if !strings.Contains(first, "bad..zone.zone") {
		t.Fatalf("first load did not log the bad file name:\n%s", first)
	}
	for range 3 {
		if err := m.reload(); err != nil {
			t.Fatal(err)
		}
	}
	if again := logs.take(); again != "" {
		t.Fatalf("rescans of unchanged files logged again:\n%s", again)
	}
	path := filepath.Join(dir, "c.example.zone")
	writeFile(t, dir, "c.example.zone", soaZone("c.example.", "", "@ MX 10 alias.example.net."))
	bumpMtime(t, path, time.Second)
	if err := m.reload(); err != nil {
		t.Fatal(err)
	}
	if changed := logs.take(); !strings.Contains(changed, filepath.Join(dir, "c.example.zone")+":6: error:") {
		t.Fatalf("the changed file's finding (now on line 6) was not logged:\n%s", changed)
	}
}

// TestUnchangedSerialWarned: with secondaries (the transfer plugin), an edit
// that keeps the SOA serial is served but warned about: secondaries compare
// serials and would keep the old version.
func TestUnchangedSerialWarned(t *testing.T) {
	dir := writeZones(t, map[string]string{"example.net.zone": provider, "a.example.zone": customer("a.example.", "5")})
	m := newTestPlugin(t, dir, DefaultPolicy())
	m.notify = newNotifier(func(string) error { return nil })
	logs := captureLog(t)
	for _, tc := range []struct {
		serial, www string
		warned      bool
	}{
		{"5", "192.0.2.1", true},  // changed, same serial
		{"6", "192.0.2.2", false}, // changed, newer serial
		{"4", "192.0.2.3", true},  // changed, older serial
	} {
		path := filepath.Join(dir, "a.example.zone")
		writeFile(t, dir, "a.example.zone", customer("a.example.", tc.serial, "www A "+tc.www))
		bumpMtime(t, path, time.Second)
		if err := m.reloadNames([]string{"a.example.zone"}); err != nil {
			t.Fatal(err)
		}
		got := logs.take()
		if warned := strings.Contains(got, "its SOA serial "+tc.serial+" is not newer"); warned != tc.warned {
			t.Fatalf("serial %s: warned %v, want %v:\n%s", tc.serial, warned, tc.warned, got)
		}
	}
}
