package mxzone

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// restartHeld starts a server on dir and state and returns it with the
// first load done and the background work (the verifying of a snapshot,
// the copies of a full load) not yet run; release lets it run to the end.
func restartHeld(t *testing.T, dir, state string, policy Policy, protected map[string]bool) (m *MXZone, release func()) {
	t.Helper()
	m = &MXZone{Origins: []string{"."}, server: "dns://snapshot-test",
		loader: &loader{dir: dir, origins: []string{"."}, policy: policy, limits: DefaultLimits(), protected: protected},
		state:  &stateDir{dir: state}}
	m.mu.Lock()
	if err := m.load(); err != nil {
		m.mu.Unlock()
		t.Fatal(err)
	}
	released := false
	release = func() {
		if !released {
			released = true
			m.mu.Unlock()
			m.stateWrites.Wait()
		}
	}
	t.Cleanup(release)
	return m, release
}

// servedSerial is the serial g serves for origin; 0: none, -1: not there.
func servedSerial(g *generation, origin string) int {
	e := g.zones[origin]
	switch {
	case e == nil:
		return -1
	case e.zone == nil:
		return 0
	}
	return int(e.zone.Serial())
}

// TestStartFromSnapshot: a restart serves the snapshot's zones at once,
// verifying; every file is then checked against it, and what the files say
// wins: deleted means deleted even while verifying, a changed file serves
// its new version or, refused, its last good one, and a zone changed after
// the snapshot was written is never served from it.
func TestStartFromSnapshot(t *testing.T) {
	const c = "c.example."
	tests := []struct {
		name string
		// down changes the files (and the state) while the server is down;
		// m is the first server, still running.
		down    func(t *testing.T, m *MXZone, dir, state string)
		policy  func(*Policy)
		protect bool    // c.example. is protected
		during  int     // c.example.'s serial while verifying (-1: not there)
		after   int     // and after
		status  outcome // c.example.'s state after
		reread  bool    // every zone is read again (other settings)
		noStart bool    // no start from the snapshot at all
	}{
		{name: "nothing changed", during: 1, after: 1, status: outcomeServed},
		{name: "changed while down", during: 1, after: 2, status: outcomeServed, down: func(t *testing.T, _ *MXZone, dir, _ string) {
			writeSettled(t, dir, "c.example.zone", customer(c, "2"))
		}},
		{name: "broken while down", during: 1, after: 1, status: outcomeFromState, down: func(t *testing.T, _ *MXZone, dir, _ string) {
			writeSettled(t, dir, "c.example.zone", "not a zone\n")
		}},
		{name: "deleted while down", during: -1, after: -1, down: func(t *testing.T, _ *MXZone, dir, _ string) {
			os.Remove(filepath.Join(dir, "c.example.zone"))
		}},
		// The protected list is a setting: with it changed every file is read again.
		{name: "protected, deleted while down", during: 1, after: 1, status: outcomeFromState, protect: true, reread: true,
			down: func(t *testing.T, _ *MXZone, dir, _ string) {
				os.Remove(filepath.Join(dir, "c.example.zone"))
			}},
		{name: "deleted while down and made again, broken", during: 1, after: 1, status: outcomeFromState,
			down: func(t *testing.T, _ *MXZone, dir, _ string) {
				os.Remove(filepath.Join(dir, "c.example.zone"))
				writeSettled(t, dir, "c.example.zone", "not a zone\n")
			}},
		{name: "changed after the snapshot, then broken while down", during: 2, after: 2, status: outcomeFromState,
			down: func(t *testing.T, m *MXZone, dir, _ string) {
				writeSettled(t, dir, "c.example.zone", customer(c, "2"))
				if err := m.reloadWith(nil, scanAll); err != nil {
					t.Fatal(err)
				}
				writeSettled(t, dir, "c.example.zone", "not a zone\n")
			}},
		{name: "deleted after the snapshot, made again while down", during: 0, after: 0, status: outcomeRejected,
			down: func(t *testing.T, m *MXZone, dir, _ string) {
				os.Remove(filepath.Join(dir, "c.example.zone"))
				if err := m.reloadWith(nil, scanAll); err != nil {
					t.Fatal(err)
				}
				writeSettled(t, dir, "c.example.zone", "not a zone\n")
			}},
		{name: "other rules", during: 1, after: 1, status: outcomeServed, reread: true,
			policy: func(p *Policy) { p.Rules[RuleDMARCReports] = SeverityFail }},
		{name: "damaged snapshot", noStart: true, after: 1, status: outcomeServed, down: func(t *testing.T, _ *MXZone, _, state string) {
			path := filepath.Join(state, snapshotName)
			data, _ := os.ReadFile(path)
			os.WriteFile(path, data[:len(data)/2], 0o600)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeZones(t, map[string]string{"example.net.zone": provider, "c.example.zone": customer(c, "1"),
				"d.example.zone": customer("d.example.", "1")})
			state := filepath.Join(t.TempDir(), "state")
			first := startWithState(t, dir, state)
			if _, err := os.Stat(filepath.Join(state, snapshotName)); err != nil {
				t.Fatalf("no snapshot after the first start: %v", err)
			}
			if tc.down != nil {
				tc.down(t, first, dir, state)
			}
			first.OnShutdown()
			policy := DefaultPolicy()
			if tc.policy != nil {
				tc.policy(&policy)
			}
			var protected map[string]bool
			if tc.protect {
				protected = map[string]bool{c: true}
			}
			m, release := restartHeld(t, dir, state, policy, protected)
			g := m.gen.Load()
			if g.verifying == tc.noStart {
				t.Fatalf("verifying %v at start", g.verifying)
			}
			if !tc.noStart {
				if got := servedSerial(g, c); got != tc.during {
					t.Fatalf("while verifying: serial %d, want %d", got, tc.during)
				}
				if _, rcode := query(t, m, "d.example.", dns.TypeMX); rcode != dns.RcodeSuccess {
					t.Fatalf("d.example. MX while verifying: %s", dns.RcodeToString[rcode])
				}
				if d, _ := detail(g, "d.example."); !d.FromSnapshot {
					t.Errorf("the status API does not say d.example. is served from the snapshot")
				}
				if list := listZones(g, "", "", "", 100); list.Snapshot == nil || list.Snapshot.Zones == 0 {
					t.Errorf("the zone list does not say zones are verifying: %+v", list.Snapshot)
				}
			}
			snapEntry := g.zones["d.example."]
			release()
			g = m.gen.Load()
			if g.verifying {
				t.Fatal("still verifying after the verifying ran")
			}
			if got := servedSerial(g, c); got != tc.after {
				t.Fatalf("after verifying: serial %d, want %d", got, tc.after)
			}
			if e := g.zones[c]; e != nil && e.status != tc.status {
				t.Errorf("after verifying: state %s, want %s", e.status, tc.status)
			}
			if d, _ := detail(g, "d.example."); d.FromSnapshot {
				t.Errorf("the status API still says d.example. is served from the snapshot")
			}
			if reread := g.zones["d.example."] != snapEntry; !tc.noStart && reread != tc.reread {
				t.Errorf("d.example. read again: %v, want %v", reread, tc.reread)
			}
			if tc.after == -1 {
				if _, err := os.Stat(filepath.Join(state, "c.example.zone")); !os.IsNotExist(err) {
					t.Errorf("the deleted zone's copy is still there: %v", err)
				}
			}
		})
	}
}

// TestSnapshotEntryRoundTrip: an entry comes back from its record as it
// went in, signed or not, and a damaged record is an error.
func TestSnapshotEntryRoundTrip(t *testing.T) {
	dir := writeZones(t, map[string]string{"example.net.zone": provider,
		"c.example.zone": customer("c.example.", "3", "v=spf1 TXT \"v=spf1 include:_spf.example.net -all\"", "bad MX 10 nowhere.example.net.")})
	state := t.TempDir()
	plain := startWithState(t, dir, filepath.Join(state, "plain"))
	signed := newSignedPlugin(t, dir, filepath.Join(state, "signed"), false)
	for name, m := range map[string]*MXZone{"unsigned": plain, "signed": signed} {
		t.Run(name, func(t *testing.T) {
			e := m.gen.Load().zones["example.net."]
			rec := encodeEntry(nil, e)
			got, err := decodeEntry(rec)
			if err != nil {
				t.Fatal(err)
			}
			want := *e
			wz := *e.zone
			wz.saved = true
			want.zone = &wz
			if got.zone.Digest() != e.zone.Digest() || (got.zone.signed == nil) != (e.zone.signed == nil) {
				t.Fatalf("the zone changed: signed %v -> %v", e.zone.signed != nil, got.zone.signed != nil)
			}
			got.zone.Zone = wz.Zone
			got.zone.signed, wz.signed = nil, nil
			got.published = want.published
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("entry changed:\n got %+v\nwant %+v", got, &want)
			}
			for _, cut := range []int{1, len(rec) / 2, len(rec) - 1} {
				if _, err := decodeEntry(rec[:cut]); err == nil {
					t.Errorf("a record cut to %d of %d bytes decodes", cut, len(rec))
				}
			}
		})
	}
}

// writeSettled writes a file as a writer that finished a while ago left it:
// a reload reads it at once instead of waiting for it to settle.
func writeSettled(t *testing.T, dir, name, text string) {
	t.Helper()
	writeFile(t, dir, name, text)
	bumpMtime(t, filepath.Join(dir, name), -time.Minute)
}
