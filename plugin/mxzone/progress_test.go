package mxzone

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	start := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		done, total int
		after       time.Duration
		want        string
	}{
		{0, 1000, 5 * time.Second, "step: 0 / 1000 (0%), 0/s, about unknown left"},
		{250, 1000, 5 * time.Second, "step: 250 / 1000 (25%), 50/s, about 15s left"},
		{1000000, 1000000, 10 * time.Second, "step: 1000000 / 1000000 (100%), 100000/s, about 0s left"},
	} {
		p := &progress{what: "step", total: tc.total, start: start}
		p.done.Store(int64(tc.done))
		if got := p.line(start.Add(tc.after)); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	var none *progress
	none.add() // a nil progress counts nothing, and does not panic
	none.finish()
}

// The first load logs its progress while it runs.
func TestFirstLoadLogsProgress(t *testing.T) {
	files := map[string]string{}
	for i := range 300 {
		origin := fmt.Sprintf("z%d.example.", i)
		files[origin+"zone"] = soaZone(origin)
	}
	abs, err := filepath.Abs(writeZones(t, files))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []string
	m := newUnloaded(abs)
	m.loader.progressInterval = time.Millisecond
	m.loader.progressLog = func(s string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, s)
	}
	if err := m.reload(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// The load of 300 files takes longer than the interval: lines while
	// it runs (if the ticker got a CPU), and one at the end.
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], "loading: zone files read: done, 300 / 300 in ") {
		t.Errorf("no progress line: %q", lines)
	}
	for _, l := range lines[:max(len(lines)-1, 0)] {
		if !strings.HasPrefix(l, "loading: zone files read: ") || !strings.Contains(l, " / 300 (") {
			t.Errorf("progress line %q", l)
		}
	}
}

// While the first load runs, the status API shows how far it is.
func TestStatusShowsLoading(t *testing.T) {
	m := newUnloaded(t.TempDir())
	m.status = &statusServer{addrs: []string{"127.0.0.1:0"}, m: m}
	if err := m.status.start(); err != nil {
		t.Fatal(err)
	}
	defer m.status.stop()
	p := m.loader.track(startProgress("loading: zone files read", 1000, time.Hour, nil))
	for range 250 {
		p.add()
	}
	base := "http://" + m.status.bound[0]
	for _, tc := range []struct{ path, want string }{
		{"/zones", `"loading": {`},
		{"/zones", `"done": 250`},
		{"/", "Starting: loading: zone files read, 250 of 1000."},
	} {
		if _, body := get(t, base+tc.path); !strings.Contains(body, tc.want) {
			t.Errorf("GET %s lacks %q:\n%s", tc.path, tc.want, body)
		}
	}
	p.add()
	if _, body := get(t, base+"/zones"); !strings.Contains(body, `"done": 251`) {
		t.Errorf("the progress is cached:\n%s", body)
	}
	m.loader.untrack(p)
	if _, body := get(t, base+"/zones"); strings.Contains(body, "loading") {
		t.Errorf("still loading after the step ended:\n%s", body)
	}
}
