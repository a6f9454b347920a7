package mxzone

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/coredns-mx/coredns-mx/internal/zonetest"

	"github.com/miekg/dns"
)

// newTestPlugin loads dir once, the way OnStartup does, with reloading off.
func newTestPlugin(t testing.TB, dir string, policy Policy) *MXZone {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := newUnloaded(abs)
	m.loader.policy = policy
	if err := m.reload(); err != nil {
		t.Fatalf("load %s: %v", dir, err)
	}
	return m
}

// newUnloaded is a plugin on dir that has loaded nothing yet.
func newUnloaded(dir string) *MXZone {
	return &MXZone{
		Next:    test.NextHandler(dns.RcodeSuccess, nil),
		Origins: []string{"."},
		loader:  &loader{dir: dir, origins: []string{"."}, policy: DefaultPolicy(), limits: DefaultLimits()},
		server:  "dns://test",
	}
}

// writeZones writes files (name -> contents) into a new temporary directory.
func writeZones(t *testing.T, files map[string]string) string { return zonetest.Dir(t, files) }

func writeFile(t testing.TB, dir, name, text string) { zonetest.WriteFile(t, dir, name, text) }

// query runs one question through ServeDNS and returns the reply and rcode.
func query(t *testing.T, m *MXZone, name string, qtype uint16) (*dns.Msg, int) {
	t.Helper()
	req := new(dns.Msg)
	req.SetQuestion(name, qtype)
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	rcode, err := m.ServeDNS(context.Background(), rec, req)
	if err != nil {
		t.Fatalf("%s %s: %v", name, dns.TypeToString[qtype], err)
	}
	if rec.Msg != nil && rcode == dns.RcodeSuccess {
		rcode = rec.Msg.Rcode // written by the plugin, an error with its EDE included
	}
	return rec.Msg, rcode
}

// soaZone is a minimal valid zone body for origin with the given extra lines.
var soaZone = zonetest.SOA

// findingsOf returns the findings of zone origin in the current generation.
func findingsOf(m *MXZone, origin string) []Finding {
	if e := m.gen.Load().zones[origin]; e != nil {
		return e.findings
	}
	return nil
}

// newBenchPlugin is newTestPlugin for benchmarks.
func newBenchPlugin(b *testing.B, dir string) *MXZone {
	b.Helper()
	m := &MXZone{
		Origins: []string{"."},
		loader:  &loader{dir: dir, origins: []string{"."}, policy: DefaultPolicy(), limits: DefaultLimits()},
		server:  "dns://bench",
	}
	if err := m.reload(); err != nil {
		b.Fatal(err)
	}
	return m
}

// reload scans the whole directory and publishes what changed (the first
// load when nothing is loaded yet).
func (m *MXZone) reload() error { return m.reloadWith(nil, scanAll) }

// reloadNames rebuilds from the named files only, as after file-system
// events.
func (m *MXZone) reloadNames(names []string) error {
	return m.reloadWith(append([]string{}, names...), scanNamed)
}

// mustRR reads one record in presentation form.
func mustRR(t testing.TB, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return rr
}
