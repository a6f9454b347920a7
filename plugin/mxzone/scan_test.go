package mxzone

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/miekg/dns"
)

// customer is a customer zone whose MX points at the provider's mx1.
func customer(origin string, serial string, lines ...string) string {
	return strings.Replace(soaZone(origin, append([]string{"@ MX 10 mx1.example.net."}, lines...)...), " 1 7200", " "+serial+" 7200", 1)
}

// touch makes sure the next write is seen as a change even on file systems
// with coarse timestamps.
func bumpMtime(t *testing.T, path string, d time.Duration) {
	t.Helper()
	now := time.Now().Add(d)
	if err := os.Chtimes(path, now, now); err != nil {
		t.Fatal(err)
	}
}

func mxAnswer(t *testing.T, m *MXZone, name string) (int, []dns.RR) {
	t.Helper()
	msg, rcode := query(t, m, name, dns.TypeMX)
	if msg == nil {
		return rcode, nil
	}
	return rcode, msg.Answer
}

func TestReload(t *testing.T) {
	t.Run("full rescans", func(t *testing.T) { testReload(t, false) })
	t.Run("file events", func(t *testing.T) { testReload(t, true) })
}

// testReload edits a zone directory step by step; with events, each reload
// reads only the files named, as after file-system notifications, and
// checks only the zones that depend on them.
func testReload(t *testing.T, events bool) {
	dir := writeZones(t, map[string]string{
		"example.net.zone": provider,
		"a.example.zone":   customer("a.example.", "1"),
	})
	m := newTestPlugin(t, dir, DefaultPolicy())
	m.loader.protected = map[string]bool{"example.net.": true} // the provider's zones: their breaking edits are held
	served := func(origin string) *version {
		if e := m.gen.Load().zones[origin]; e != nil {
			return e.zone
		}
		return nil
	}
	reload := func(names ...string) {
		t.Helper()
		var err error
		if events {
			err = m.reloadNames(append([]string{}, names...))
		} else {
			err = m.reload()
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	t.Run("a new file is added", func(t *testing.T) {
		writeFile(t, dir, "b.example.zone", customer("b.example.", "1"))
		reload("b.example.zone")
		if rcode, ans := mxAnswer(t, m, "b.example."); rcode != dns.RcodeSuccess || len(ans) != 1 {
			t.Fatalf("rcode %d answer %v", rcode, ans)
		}
	})

	t.Run("a changed file is re-read even with the same serial", func(t *testing.T) {
		writeFile(t, dir, "b.example.zone", customer("b.example.", "1", "www A 192.0.2.8"))
		bumpMtime(t, filepath.Join(dir, "b.example.zone"), time.Second)
		reload("b.example.zone")
		if msg, _ := query(t, m, "www.b.example.", dns.TypeA); len(msg.Answer) != 1 {
			t.Fatalf("edit not served: %v", msg)
		}
	})

	t.Run("an unchanged file is not re-read", func(t *testing.T) {
		before := served("a.example.")
		gen := m.gen.Load()
		reload()
		if served("a.example.") != before || m.gen.Load() != gen {
			t.Fatal("unchanged zone was parsed again, or a new generation published for nothing")
		}
	})

	t.Run("a broken edit keeps the last good version", func(t *testing.T) {
		before := testutil.ToFloat64(zonesGauge.WithLabelValues(m.server, "last_good"))
		writeFile(t, dir, "b.example.zone", customer("b.example.", "2", "@ MX 20 alias.example.net."))
		bumpMtime(t, filepath.Join(dir, "b.example.zone"), 2*time.Second)
		reload("b.example.zone")
		if msg, _ := query(t, m, "www.b.example.", dns.TypeA); len(msg.Answer) != 1 {
			t.Fatalf("last good version not served: %v", msg)
		}
		e := m.gen.Load().zones["b.example."]
		if e.status != outcomeLastGood || !failed(e.findings) {
			t.Fatalf("state %s findings %v", e.status, e.findings)
		}
		if got := testutil.ToFloat64(zonesGauge.WithLabelValues(m.server, "last_good")); got != before+1 {
			t.Fatalf("zones{state=last_good} = %v, want %v", got, before+1)
		}
		// The same broken file is reported once, not on every scan.
		counted := testutil.ToFloat64(findingsCounter.WithLabelValues(m.server, "mx_target_cname", "error"))
		reload("b.example.zone")
		if got := testutil.ToFloat64(findingsCounter.WithLabelValues(m.server, "mx_target_cname", "error")); got != counted {
			t.Fatalf("findings counted again for an unchanged file: %v -> %v", counted, got)
		}
	})

	t.Run("an edit of the provider that breaks customers is refused", func(t *testing.T) {
		broken := strings.Replace(provider, "mx1 A 192.0.2.25\nmx1 AAAA 2001:db8::25\n", "", 1)
		broken = strings.Replace(broken, "alias CNAME mx1\n", "", 1)
		writeFile(t, dir, "example.net.zone", broken)
		bumpMtime(t, filepath.Join(dir, "example.net.zone"), 3*time.Second)
		reload("example.net.zone")
		e := m.gen.Load().zones["example.net."]
		if e.status != outcomeLastGood {
			t.Fatalf("provider edit applied although a.example. depends on mx1: %v", e.findings)
		}
		msg := ""
		for _, f := range e.findings {
			msg += f.String() + "\n"
		}
		if !strings.Contains(msg, "zone a.example. depends on it") || !strings.Contains(msg, "mx1.example.net.") {
			t.Fatalf("findings do not name the dependent zone:\n%s", msg)
		}
		if rcode, ans := mxAnswer(t, m, "a.example."); rcode != dns.RcodeSuccess || len(ans) != 1 {
			t.Fatalf("customer zone hurt: %d %v", rcode, ans)
		}
	})

	t.Run("a deleted file is removed", func(t *testing.T) {
		if err := os.Remove(filepath.Join(dir, "a.example.zone")); err != nil {
			t.Fatal(err)
		}
		reload("a.example.zone")
		if _, rcode := query(t, m, "a.example.", dns.TypeMX); rcode != dns.RcodeRefused {
			t.Fatalf("rcode %s, want REFUSED", dns.RcodeToString[rcode])
		}
	})

	t.Run("a held-back edit goes live once nothing depends on the old data", func(t *testing.T) {
		// b.example.'s last good version still points at mx1, so the provider
		// edit stays held back until b is fixed to point elsewhere.
		writeFile(t, dir, "b.example.zone", strings.Replace(customer("b.example.", "3"), "mx1.example.net.", "aspmx.l.google.com.", 1))
		bumpMtime(t, filepath.Join(dir, "b.example.zone"), 4*time.Second)
		reload("b.example.zone")
		if e := m.gen.Load().zones["example.net."]; e.status != outcomeServed {
			t.Fatalf("provider edit still held back: %s %v", e.status, e.findings)
		}
	})
}

func TestReloadNewZoneWaitsForItsTarget(t *testing.T) {
	dir := writeZones(t, map[string]string{
		"example.net.zone": provider,
		"c.example.zone":   soaZone("c.example.", "@ MX 10 mx9.example.net."),
	})
	m := newTestPlugin(t, dir, DefaultPolicy())
	if e := m.gen.Load().zones["c.example."]; e.status != outcomeRejected {
		t.Fatalf("state %s", e.status)
	}
	if _, rcode := query(t, m, "c.example.", dns.TypeMX); rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %s, want SERVFAIL", dns.RcodeToString[rcode])
	}
	writeFile(t, dir, "example.net.zone", provider+"mx9 A 192.0.2.9\n")
	bumpMtime(t, filepath.Join(dir, "example.net.zone"), time.Second)
	if err := m.reload(); err != nil {
		t.Fatal(err)
	}
	if e := m.gen.Load().zones["c.example."]; e.status != outcomeServed {
		t.Fatalf("c.example. not served once its MX target exists: %s %v", e.status, e.findings)
	}
}

func TestReloadKeepsServingWhenDirectoryVanishes(t *testing.T) {
	dir := writeZones(t, map[string]string{"example.net.zone": provider})
	m := newTestPlugin(t, dir, DefaultPolicy())
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := m.reload(); err == nil {
		t.Fatal("no error for a missing directory")
	}
	if _, rcode := query(t, m, "mx1.example.net.", dns.TypeA); rcode != dns.RcodeSuccess {
		t.Fatalf("rcode %s: zones dropped", dns.RcodeToString[rcode])
	}
}

func TestReloadNewZoneCapturingAnExchange(t *testing.T) {
	// c.example.'s MX points at mx.sub.example.net., an address in the
	// provider's zone. A new zone sub.example.net. without that host would
	// take the name over and break c.example.: the new zone is held back.
	dir := writeZones(t, map[string]string{
		"example.net.zone": provider + "mx.sub A 192.0.2.77\n",
		"c.example.zone":   soaZone("c.example.", "@ MX 10 mx.sub.example.net."),
	})
	m := newTestPlugin(t, dir, DefaultPolicy())
	m.loader.protected = map[string]bool{"example.net.": true, "sub.example.net.": true} // the provider's zones: their breaking edits are held
	writeFile(t, dir, "sub.example.net.zone", soaZone("sub.example.net."))
	if err := m.reloadNames([]string{"sub.example.net.zone"}); err != nil {
		t.Fatal(err)
	}
	g := m.gen.Load()
	if e := g.zones["sub.example.net."]; e == nil || e.status != outcomeRejected || e.heldBack == nil {
		t.Fatalf("new zone that breaks c.example. was not held back: %+v", e)
	}
	if e := g.zones["c.example."]; e.status != outcomeServed {
		t.Fatalf("c.example. hurt: %s", e.status)
	}
	// Once the new zone has the host, it goes live.
	writeFile(t, dir, "sub.example.net.zone", soaZone("sub.example.net.", "mx A 192.0.2.78"))
	bumpMtime(t, filepath.Join(dir, "sub.example.net.zone"), time.Second)
	if err := m.reloadNames([]string{"sub.example.net.zone"}); err != nil {
		t.Fatal(err)
	}
	if e := m.gen.Load().zones["sub.example.net."]; e.status != outcomeServed {
		t.Fatalf("fixed zone not served: %s %v", e.status, e.findings)
	}
	msg, _ := query(t, m, "c.example.", dns.TypeMX)
	if len(msg.Extra) != 1 || msg.Extra[0].(*dns.A).A.String() != "192.0.2.78" {
		t.Fatalf("additional does not come from the new zone: %v", msg.Extra)
	}
}

func TestRotatingRescanFindsMissedEdits(t *testing.T) {
	files := map[string]string{"example.net.zone": provider}
	for _, o := range []string{"a", "b", "c", "d", "e"} {
		files[o+".example.zone"] = customer(o+".example.", "1")
	}
	dir := writeZones(t, files)
	m := newTestPlugin(t, dir, DefaultPolicy())
	m.loader.budget = 2
	// An in-place write whose event was lost: only a rescan can see it.
	path := filepath.Join(dir, "d.example.zone")
	if err := os.WriteFile(path, []byte(customer("d.example.", "2", "www A 192.0.2.4")), 0o644); err != nil {
		t.Fatal(err)
	}
	bumpMtime(t, path, -2*settleTime) // written in place a while ago: settled
	for scans := 1; ; scans++ {
		if err := m.reloadWith(nil, scanRotating); err != nil {
			t.Fatal(err)
		}
		if msg, _ := query(t, m, "www.d.example.", dns.TypeA); len(msg.Answer) == 1 {
			break
		}
		if scans >= 3 { // 6 files, 2 a scan
			t.Fatalf("edit not found after %d rotating rescans", scans)
		}
	}
}

// TestReloadMidWrite: a zone file caught while a writer rewrites it in place
// is not taken: a file cut off without its final newline is left alone until
// it has been still for settleTime, and the last good version keeps serving.
func TestReloadMidWrite(t *testing.T) {
	dir := writeZones(t, map[string]string{
		"example.net.zone": provider,
		"a.example.zone":   customer("a.example.", "1", "www A 192.0.2.5"),
	})
	m := newTestPlugin(t, dir, DefaultPolicy())
	path := filepath.Join(dir, "a.example.zone")
	whole := customer("a.example.", "2", "www A 192.0.2.10")
	www := func() string {
		t.Helper()
		msg, _ := query(t, m, "www.a.example.", dns.TypeA)
		if msg == nil || len(msg.Answer) != 1 {
			t.Fatalf("www.a.example.: %v", msg)
		}
		return msg.Answer[0].(*dns.A).A.String()
	}
	// In place, cut after "192.0.2.1": it parses, and would serve the wrong address.
	if err := os.WriteFile(path, []byte(strings.TrimSuffix(whole, "0\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.reloadNames([]string{"a.example.zone"}); err != nil {
		t.Fatal(err)
	}
	if got, busy := www(), m.takeBusy(); got != "192.0.2.5" || len(busy) != 1 || busy[0] != "a.example.zone" {
		t.Fatalf("half-written file: www %s, busy %v; want the last good 192.0.2.5 and the file to read again", got, busy)
	}
	// The writer finishes: the whole file is read once it has been still
	// for settleTime (written in place: a writer may pause between lines).
	if err := os.WriteFile(path, []byte(whole), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.reloadNames([]string{"a.example.zone"}); err != nil {
		t.Fatal(err)
	}
	if got := www(); got != "192.0.2.5" || len(m.takeBusy()) != 1 {
		t.Fatalf("a file written in place a moment ago was taken: www %s", got)
	}
	bumpMtime(t, path, -2*settleTime)
	if err := m.reloadNames([]string{"a.example.zone"}); err != nil {
		t.Fatal(err)
	}
	if got := www(); got != "192.0.2.10" {
		t.Fatalf("finished file: www %s, want 192.0.2.10", got)
	}
	// A file that ends without a newline but has been left alone is read.
	if err := os.WriteFile(path, []byte(strings.TrimSuffix(customer("a.example.", "3", "www A 192.0.2.3"), "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	bumpMtime(t, path, -2*settleTime)
	if err := m.reloadNames([]string{"a.example.zone"}); err != nil {
		t.Fatal(err)
	}
	if got := www(); got != "192.0.2.3" {
		t.Fatalf("settled file without final newline: www %s, want 192.0.2.3", got)
	}
}

// TestReloadFollowsReplacedDirectory: a provider that swaps in a new zone
// directory (renames it over the old one) keeps getting edits picked up by
// notification, not only by the hourly rescan.
func TestReloadFollowsReplacedDirectory(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "zones")
	writeFile(t, dir, "example.net.zone", provider)
	m := &MXZone{Origins: []string{"."}, server: "dns://replaced", interval: time.Hour,
		loader: &loader{dir: dir, origins: []string{"."}, policy: DefaultPolicy(), limits: DefaultLimits()}}
	if err := m.OnStartup(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.OnShutdown() })
	served := func(origin string) func() bool {
		return func() bool {
			e := m.gen.Load().zones[origin]
			return e != nil && e.zone != nil
		}
	}
	fresh := filepath.Join(parent, "zones.new")
	writeFile(t, fresh, "example.net.zone", provider)
	writeFile(t, fresh, "a.example.zone", customer("a.example.", "1"))
	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fresh, dir); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the zones of the new directory", served("a.example."))
	writeFile(t, dir, "b.example.zone", customer("b.example.", "1"))
	eventually(t, 5*time.Second, "a file added to the new directory", served("b.example."))
}

// eventually polls cond until it holds or limit passes.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
