package mxzone

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
)

// newTestPlugin loads dir once, the way OnStartup does, with reloading off.
func newTestPlugin(t testing.TB, dir string, policy Policy) *MXZone {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := &MXZone{
		Next:    test.NextHandler(dns.RcodeSuccess, nil),
		Origins: []string{"."},
		loader:  &loader{dir: abs, origins: []string{"."}, policy: policy, limits: DefaultLimits()},
		server:  "dns://test",
	}
	if err := m.reload(); err != nil {
		t.Fatalf("load %s: %v", dir, err)
	}
	return m
}

// writeZones writes files (name -> contents) into a new temporary directory.
func writeZones(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		writeFile(t, dir, name, text)
	}
	return dir
}

func writeFile(t *testing.T, dir, name, text string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	// Write aside and rename, as providers do, so a reload never sees half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

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
	return rec.Msg, rcode
}

// soaZone is a minimal valid zone body for origin with the given extra lines.
func soaZone(origin string, lines ...string) string {
	return "$TTL 3600\n" +
		"@ SOA ns1." + origin + " hostmaster." + origin + " 1 7200 3600 1209600 300\n" +
		"@ NS ns1." + origin + "\n" +
		"ns1 A 192.0.2.53\n" +
		strings.Join(lines, "\n") + "\n"
}

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
