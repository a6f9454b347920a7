package mxzone

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/snapshot"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/miekg/dns"
)

// startWithState loads dir like OnStartup does, with a state directory, and
// waits for the first load's copies to be written.
func startWithState(t *testing.T, dir, state string) *MXZone {
	t.Helper()
	return startConfigured(t, &MXZone{
		Origins: []string{"."}, server: "dns://state-test",
		loader: &loader{dir: dir, origins: []string{"."}, policy: DefaultPolicy(), limits: DefaultLimits()},
		state:  &stateDir{dir: state},
	})
}

// startConfigured starts m like the server does and waits for the first
// load's copies to be written.
func startConfigured(t *testing.T, m *MXZone) *MXZone {
	t.Helper()
	if err := m.OnStartup(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.OnShutdown() })
	m.stateWrites.Wait()
	return m
}

func TestStateSurvivesRestart(t *testing.T) {
	dir := writeZones(t, map[string]string{
		"example.net.zone": provider,
		// and an SVCB record miekg/dns cannot hold (an IPv4-mapped
		// hint, RFC 9460 appendix D), which the copy must keep too.
		"c.example.zone": customer("c.example.", "7", "www A 192.0.2.7\nsvc SVCB 1 www.c.example. ipv6hint=::ffff:198.51.100.100"),
	})
	state := filepath.Join(t.TempDir(), "state")
	first := startWithState(t, dir, state)
	saved, err := os.ReadFile(filepath.Join(state, "c.example.zone"))
	if err != nil || !strings.Contains(string(saved), "www.c.example.") {
		t.Fatalf("no saved copy of c.example.: %v\n%s", err, saved)
	}
	first.OnShutdown()

	t.Run("a file broken while down: the saved copy is served", func(t *testing.T) {
		writeFile(t, dir, "c.example.zone", "this is not a zone\n")
		m := startWithState(t, dir, state)
		if _, rcode := query(t, m, "www.c.example.", dns.TypeA); rcode != dns.RcodeSuccess {
			t.Fatalf("rcode %s, want the saved copy", dns.RcodeToString[rcode])
		}
		svc, _ := query(t, m, "svc.c.example.", dns.TypeSVCB)
		if len(svc.Answer) != 1 || svc.Answer[0].Header().Rrtype != dns.TypeSVCB ||
			!strings.HasSuffix(svc.Answer[0].String(), "00060010"+"00000000000000000000ffffc6336464") {
			t.Fatalf("SVCB from the saved copy: %v", svc.Answer)
		}
		if e := m.gen.Load().zones["c.example."]; e.status != outcomeFromState {
			t.Fatalf("state %s, want from_state", e.status)
		}
		if got := testutil.ToFloat64(zonesGauge.WithLabelValues(m.server, "from_state")); got != 1 {
			t.Fatalf("zones{state=from_state} = %v, want 1", got)
		}
		// Another broken edit while running keeps the saved copy.
		writeFile(t, dir, "c.example.zone", customer("c.example.", "8", "@ MX 20 192.0.2.1."))
		bumpMtime(t, filepath.Join(dir, "c.example.zone"), time.Second)
		if err := m.reload(); err != nil {
			t.Fatal(err)
		}
		if msg, _ := query(t, m, "www.c.example.", dns.TypeA); len(msg.Answer) != 1 {
			t.Fatalf("saved copy lost after a second broken edit: %v", msg)
		}
		if again, _ := os.ReadFile(filepath.Join(state, "c.example.zone")); string(again) != string(saved) {
			t.Fatal("a refused edit overwrote the saved copy")
		}
	})

	t.Run("a fixed file is served and saved", func(t *testing.T) {
		m := startWithState(t, dir, state)
		writeFile(t, dir, "c.example.zone", customer("c.example.", "9", "www A 192.0.2.9"))
		bumpMtime(t, filepath.Join(dir, "c.example.zone"), 2*time.Second)
		if err := m.reload(); err != nil {
			t.Fatal(err)
		}
		if e := m.gen.Load().zones["c.example."]; e.status != outcomeServed {
			t.Fatalf("state %s", e.status)
		}
		if now, _ := os.ReadFile(filepath.Join(state, "c.example.zone")); !strings.Contains(string(now), "192.0.2.9") {
			t.Fatalf("new version not saved:\n%s", now)
		}
	})

	t.Run("a file deleted while down is gone, copy too", func(t *testing.T) {
		if err := os.Remove(filepath.Join(dir, "c.example.zone")); err != nil {
			t.Fatal(err)
		}
		m := startWithState(t, dir, state)
		if _, rcode := query(t, m, "c.example.", dns.TypeMX); rcode != dns.RcodeRefused {
			t.Fatalf("rcode %s, want REFUSED", dns.RcodeToString[rcode])
		}
		if _, err := os.Stat(filepath.Join(state, "c.example.zone")); !os.IsNotExist(err) {
			t.Fatalf("copy of a deleted zone kept: %v", err)
		}
	})
}

// TestCatalogSerialSurvivesRestart: the catalog serial never goes back, not
// even across a restart within the second after changes ran it ahead of
// the clock, or secondaries would ignore the catalog.
func TestCatalogSerialSurvivesRestart(t *testing.T) {
	dir := writeZones(t, map[string]string{"example.net.zone": provider, "a.example.zone": customer("a.example.", "1")})
	state := filepath.Join(t.TempDir(), "state")
	at := time.Unix(1_800_000_000, 0)
	start := func() *MXZone {
		return startConfigured(t, &MXZone{
			Origins: []string{"."}, server: "dns://catalog-state", catalog: newCatalog("catalog.invalid."),
			clock:  func() time.Time { return at },
			loader: &loader{dir: dir, origins: []string{"."}, policy: DefaultPolicy(), limits: DefaultLimits(), catalog: "catalog.invalid."},
			state:  &stateDir{dir: state},
		})
	}
	serial := func(m *MXZone) uint32 { return m.catalog.cur.Load().zone.Serial() }
	first := start()
	if got := serial(first); got != 1_800_000_000 {
		t.Fatalf("first catalog serial %d, want the clock's 1800000000", got)
	}
	writeFile(t, dir, "b.example.zone", customer("b.example.", "1"))
	if err := first.reloadNames([]string{"b.example.zone"}); err != nil {
		t.Fatal(err)
	}
	first.flushCatalog()
	ahead := serial(first)
	if ahead != 1_800_000_001 {
		t.Fatalf("catalog serial after a second change in the same second: %d, want 1800000001", ahead)
	}
	first.OnShutdown()
	if got := serial(start()); !serialNewer(got, ahead) {
		t.Fatalf("catalog serial after a restart: %d, not newer than %d", got, ahead)
	}
}

// TestFailedSavesAreRetried: a copy that cannot be saved (here a directory
// stands where its temporary file goes: root ignores permissions) is counted
// and saved again once it can be, without another edit.
func TestFailedSavesAreRetried(t *testing.T) {
	dir := writeZones(t, map[string]string{"example.net.zone": provider, "a.example.zone": customer("a.example.", "1")})
	state := filepath.Join(t.TempDir(), "state")
	m := startWithState(t, dir, state)
	blocker := filepath.Join(state, "a.example.zone.tmp")
	if err := os.Mkdir(blocker, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "a.example.zone", customer("a.example.", "2"))
	if err := m.reloadNames([]string{"a.example.zone"}); err != nil {
		t.Fatal(err)
	}
	unsaved := func() float64 { return testutil.ToFloat64(unsavedGauge.WithLabelValues(m.server)) }
	if e := m.gen.Load().zones["a.example."]; e.zone.Serial() != 2 || unsaved() != 1 {
		t.Fatalf("serial %d served, unsaved %v: want 2 served and 1 unsaved", e.zone.Serial(), unsaved())
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	saved := func() bool {
		data, err := os.ReadFile(filepath.Join(state, "a.example.zone"))
		return err == nil && strings.Contains(string(data), " 2 7200 ")
	}
	eventually(t, 5*time.Second, "the copy of serial 2 saved", saved)
	eventually(t, time.Second, "the unsaved gauge back to 0", func() bool { return unsaved() == 0 })
}

// TestDeletedMeansDeleted: a zone deleted and made again with a broken file
// (within the debounce, or while the copy could not be removed) never
// serves the deleted zone's records.
func TestDeletedMeansDeleted(t *testing.T) {
	owner := customer("a.example.", "1", "www A 192.0.2.1")
	broken := customer("a.example.", "2", "www CNAME x", "www A 192.0.2.66") // CNAME beside data
	t.Run("deleted and made again at once", func(t *testing.T) {
		dir := writeZones(t, map[string]string{"example.net.zone": provider, "a.example.zone": owner})
		state := filepath.Join(t.TempDir(), "state")
		m := startConfigured(t, &MXZone{Origins: []string{"."}, server: "dns://deleted", interval: time.Hour,
			loader: &loader{dir: dir, origins: []string{"."}, policy: DefaultPolicy(), limits: DefaultLimits()},
			state:  &stateDir{dir: state}})
		if err := os.Remove(filepath.Join(dir, "a.example.zone")); err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, "a.example.zone", broken)
		eventually(t, 5*time.Second, "the new file read", func() bool {
			e := m.gen.Load().zones["a.example."]
			return e != nil && e.status == outcomeRejected
		})
		if _, rcode := query(t, m, "www.a.example.", dns.TypeA); rcode != dns.RcodeServerFailure {
			t.Fatalf("rcode %s: the deleted zone's records are served", dns.RcodeToString[rcode])
		}
		if _, err := os.Stat(filepath.Join(state, "a.example.zone")); !os.IsNotExist(err) {
			t.Fatalf("the deleted zone's copy is still there: %v", err)
		}
	})
	t.Run("a copy marked deleted is not served at start", func(t *testing.T) {
		dir := writeZones(t, map[string]string{"example.net.zone": provider, "a.example.zone": owner})
		state := filepath.Join(t.TempDir(), "state")
		startWithState(t, dir, state).OnShutdown()
		// What remove leaves when the copy cannot be removed, with the mark
		// that keeps the start snapshot from serving the zone.
		if err := os.WriteFile(filepath.Join(state, "a.example.zone.deleted"), []byte("deleted\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		markInState(t, state, "a.example.")
		writeFile(t, dir, "a.example.zone", broken)
		m := startWithState(t, dir, state)
		if e := m.gen.Load().zones["a.example."]; e.status != outcomeRejected {
			t.Fatalf("status %s: a copy marked deleted was served", e.status)
		}
		if _, err := os.Stat(filepath.Join(state, "a.example.zone")); !os.IsNotExist(err) {
			t.Fatalf("the deleted zone's copy is still there: %v", err)
		}
	})
}

// TestEditWhileDownSavedBeforeServed: a file changed while the server was
// down is served at start only once its copy holds that version, not after
// the first load's copies are written in the background: a crash right after
// the start, with the file broken meanwhile, must not bring the older copy
// back. Started from the snapshot, the older version serves until the
// verifying reads the file, which saves the copy before it serves it.
func TestEditWhileDownSavedBeforeServed(t *testing.T) {
	for _, fromSnapshot := range []bool{false, true} {
		t.Run(fmt.Sprintf("from snapshot %v", fromSnapshot), func(t *testing.T) {
			dir := writeZones(t, map[string]string{"c.example.zone": customer("c.example.", "1"), "example.net.zone": provider})
			state := filepath.Join(t.TempDir(), "state")
			startWithState(t, dir, state).OnShutdown()
			if !fromSnapshot {
				os.Remove(filepath.Join(state, snapshotName))
			}
			writeFile(t, dir, "c.example.zone", customer("c.example.", "2", "www A 192.0.2.2"))
			bumpMtime(t, filepath.Join(dir, "c.example.zone"), time.Second)

			m := &MXZone{Origins: []string{"."}, server: "dns://state-test",
				loader: &loader{dir: dir, origins: []string{"."}, policy: DefaultPolicy(), limits: DefaultLimits()},
				state:  &stateDir{dir: state}}
			m.mu.Lock() // the background work waits for it: only what load writes itself is on disk
			err := m.load()
			if err != nil {
				t.Fatal(err)
			}
			g := m.gen.Load()
			if g.verifying != fromSnapshot {
				t.Fatalf("verifying %v, want %v", g.verifying, fromSnapshot)
			}
			if fromSnapshot {
				if serial := g.zones["c.example."].zone.Serial(); serial != 1 {
					t.Fatalf("serial %d served from the snapshot, want 1", serial)
				}
				// What the verifying does once it has the lock.
				if err := m.update(nil, scanAll, nil); err != nil {
					t.Fatal(err)
				}
			}
			served := m.gen.Load().zones["c.example."].zone.Serial()
			copied, _ := os.ReadFile(filepath.Join(state, "c.example.zone"))
			m.mu.Unlock()
			m.stateWrites.Wait()
			if served != 2 || !strings.Contains(string(copied), "www.c.example.") {
				t.Fatalf("version %d is served; its copy:\n%s", served, copied)
			}
		})
	}
}

// markInState records in the state directory's snapshot marks that origin
// changed, as the server does before it serves a change.
func markInState(t *testing.T, state, origin string) {
	t.Helper()
	marks, err := snapshot.OpenMarks(filepath.Join(state, marksName))
	if err != nil {
		t.Fatal(err)
	}
	defer marks.Close()
	if err := marks.Mark(origin); err != nil {
		t.Fatal(err)
	}
}
