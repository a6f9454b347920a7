package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnitVerifies: contrib/systemd/coredns-mx.service passes
// systemd-analyze verify without a word (a misspelt key is only a warning
// there, so any output fails), with ExecStart pointed at the binary under
// test, and keeps the hardening it promises.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze")
	text, err := os.ReadFile("../contrib/systemd/coredns-mx.service")
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(binary)
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "coredns-mx.service")
	if err := os.WriteFile(unit, []byte(strings.Replace(string(text), "ExecStart=/usr/local/bin/coredns-mx", "ExecStart="+abs, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, want := range []string{"User=coredns-mx", "ProtectSystem=strict", "ReadWritePaths=/var/lib/coredns-mx",
		"CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n", "AmbientCapabilities=CAP_NET_BIND_SERVICE\n", "NoNewPrivileges=yes",
		"Restart=on-failure", "ExecStart=/usr/local/bin/coredns-mx -conf "} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
}
