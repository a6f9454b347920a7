package mxzone

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestZoneFileNames: file names are compared as the DNS names they spell;
// the canonical spelling is the zone's file, whatever came first, and a
// second file never takes a zone over.
func TestZoneFileNames(t *testing.T) {
	owner := soaZone("example.com.", "www A 192.0.2.1")
	impostor := soaZone("example.com.", "www A 203.0.113.66")
	www := func(m *MXZone) string {
		msg, _ := query(t, m, "www.example.com.", dns.TypeA)
		if len(msg.Answer) != 1 {
			return "none"
		}
		return msg.Answer[0].(*dns.A).A.String()
	}
	conflict := func(m *MXZone, name string) bool {
		for _, f := range m.loader.problems {
			if filepath.Base(f.File) == name && f.Rule == RuleIsolation && strings.Contains(f.Message, "names zone example.com.") {
				return true
			}
		}
		return false
	}
	t.Run("canonical first, impostor added", func(t *testing.T) {
		dir := writeZones(t, map[string]string{"example.com.zone": owner})
		m := newTestPlugin(t, dir, DefaultPolicy())
		writeFile(t, dir, "Example.Com.zone", impostor)
		if err := m.reloadNames([]string{"Example.Com.zone"}); err != nil {
			t.Fatal(err)
		}
		if got := www(m); got != "192.0.2.1" || !conflict(m, "Example.Com.zone") {
			t.Fatalf("www %s, conflict reported %v", got, conflict(m, "Example.Com.zone"))
		}
		// Deleting the impostor leaves the zone where it is.
		os.Remove(filepath.Join(dir, "Example.Com.zone"))
		if err := m.reloadNames([]string{"Example.Com.zone"}); err != nil {
			t.Fatal(err)
		}
		if got := www(m); got != "192.0.2.1" {
			t.Fatalf("the impostor's deletion took the zone: www %s", got)
		}
	})
	t.Run("impostor first, canonical added, and a restart", func(t *testing.T) {
		dir := writeZones(t, map[string]string{`ex\097mple.com.zone`: impostor})
		m := newTestPlugin(t, dir, DefaultPolicy())
		if got := www(m); got != "203.0.113.66" {
			t.Fatalf("alone, a file spelt otherwise is its zone's: www %s", got)
		}
		writeFile(t, dir, "example.com.zone", owner)
		if err := m.reloadNames([]string{"example.com.zone"}); err != nil {
			t.Fatal(err)
		}
		if got := www(m); got != "192.0.2.1" || !conflict(m, `ex\097mple.com.zone`) {
			t.Fatalf("www %s, conflict reported %v", got, conflict(m, `ex\097mple.com.zone`))
		}
		if got := www(newTestPlugin(t, dir, DefaultPolicy())); got != "192.0.2.1" {
			t.Fatalf("after a restart: www %s", got)
		}
	})
	t.Run("two spelt otherwise: the zone keeps what it serves", func(t *testing.T) {
		dir := writeZones(t, map[string]string{"Example.com.zone": owner})
		m := newTestPlugin(t, dir, DefaultPolicy())
		writeFile(t, dir, "EXAMPLE.com.zone", impostor)
		if err := m.reloadNames([]string{"EXAMPLE.com.zone"}); err != nil {
			t.Fatal(err)
		}
		if got := www(m); got != "192.0.2.1" || !conflict(m, "Example.com.zone") || !conflict(m, "EXAMPLE.com.zone") {
			t.Fatalf("www %s; both refused: %v %v", got, conflict(m, "Example.com.zone"), conflict(m, "EXAMPLE.com.zone"))
		}
	})
	t.Run("an empty label", func(t *testing.T) {
		dir := writeZones(t, map[string]string{"example.com..zone": owner})
		res, err := Check([]string{dir}, DefaultPolicy(), DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Findings) != 1 || !strings.Contains(res.Findings[0].Message, "does not name a valid domain") {
			t.Fatalf("findings %v", res.Findings)
		}
	})
}
