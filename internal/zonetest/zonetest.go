// Package zonetest holds the zone files and file helpers that the tests of
// more than one package share. Only tests import it.
package zonetest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// SOA is a minimal valid zone body for origin ($TTL, SOA, NS and the
// name server's address) with the given lines after it.
func SOA(origin string, lines ...string) string {
	return "$TTL 3600\n" +
		"@ SOA ns1." + origin + " hostmaster." + origin + " 1 7200 3600 1209600 300\n" +
		"@ NS ns1." + origin + "\n" +
		"ns1 A 192.0.2.53\n" +
		strings.Join(lines, "\n") + "\n"
}

// Provider is the provider's zone that customer MX records point into,
// with one name of each shape a target can have.
var Provider = SOA("example.net.",
	"mx1 A 192.0.2.25",
	"mx1 AAAA 2001:db8::25",
	"alias CNAME mx1",
	"txtonly TXT \"no address\"",
	"a.ent A 192.0.2.1",
	"*.wild A 192.0.2.2",
	"*.wildcname CNAME mx1",
	"sub NS ns.other.example.",
)

// WriteFile writes name (and the directories it is in) in dir, aside and
// then renamed into place as providers do, so a reload never sees half a
// file.
func WriteFile(t testing.TB, dir, name, text string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Dir writes files (name -> contents) into a new temporary directory.
func Dir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		WriteFile(t, dir, name, text)
	}
	return dir
}
