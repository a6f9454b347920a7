package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// buildACMETools builds Pebble (the ACME test CA) and acmeclient (lego with
// its rfc2136 provider) from the test-only module in acme/, so that neither
// is a dependency of the server; it returns their paths and Pebble's test
// certificates directory.
func buildACMETools(t *testing.T) (pebble, client, certs string) {
	t.Helper()
	dir := t.TempDir()
	pebble, client = filepath.Join(dir, "pebble"), filepath.Join(dir, "acmeclient")
	for _, args := range [][]string{
		{"build", "-o", client, "."},
		{"build", "-o", pebble, "github.com/letsencrypt/pebble/v2/cmd/pebble"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = "acme"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/letsencrypt/pebble/v2")
	cmd.Dir = "acme"
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list pebble: %v", err)
	}
	return pebble, client, filepath.Join(strings.TrimSpace(string(out)), "test", "certs")
}

// TestACMEWildcard: Pebble, pointed at coredns-mx as its DNS server, issues
// a certificate for *.example.com and example.com of the served, signed
// zone to lego, which publishes the DNS-01 TXT records by RFC 2136 UPDATE
// with a TSIG key granted only _acme-challenge TXT; afterwards the TXT
// records are gone.
func TestACMEWildcard(t *testing.T) {
	requireTool(t, "go")
	pebble, client, certs := buildACMETools(t)
	u := newUpdateSetup(t)
	s := u.start(t, "dnssec")
	acmePort, mgmtPort := freePort(t), freePort(t)
	conf := filepath.Join(t.TempDir(), "pebble.json")
	os.WriteFile(conf, []byte(fmt.Sprintf(`{"pebble": {"listenAddress": "127.0.0.1:%d", "managementListenAddress": "127.0.0.1:%d",
  "certificate": %q, "privateKey": %q, "httpPort": %d, "tlsPort": %d, "ocspResponderURL": "",
  "externalAccountBindingRequired": false}}`, acmePort, mgmtPort,
		filepath.Join(certs, "localhost", "cert.pem"), filepath.Join(certs, "localhost", "key.pem"), freePort(t), freePort(t))), 0o644)
	cmd := exec.Command(pebble, "-config", conf, "-dnsserver", s.addr, "-strict")
	// Pebble's documented test switches: no random sleep before validating,
	// every nonce accepted; validation itself stays real.
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_VA_ALWAYS_VALID=0")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("pebble log:\n%s", out)
		}
	})
	waitFor(t, 20*time.Second, "Pebble to listen", func() bool { return strings.Contains(out.String(), "Listening on") })

	lego := exec.Command(client, "-ca", fmt.Sprintf("https://localhost:%d/dir", acmePort), "-roots", filepath.Join(certs, "pebble.minica.pem"),
		"-dns", s.addr, "-key", u.acme.name+".", "-alg", "hmac-sha256.", "-secret", u.acme.secret,
		"-domains", "*.example.com,example.com")
	got, err := lego.CombinedOutput()
	if err != nil {
		t.Fatalf("lego: %v\n%s\nserver log:\n%s", err, got, s.log)
	}
	if !strings.Contains(string(got), "certificate for *.example.com example.com") {
		t.Fatalf("lego: %s", got)
	}
	if got := answers(t, s, "_acme-challenge.example.com.", dns.TypeTXT); got != "NXDOMAIN" {
		t.Errorf("the challenge TXT is still served after issuance: %s", got)
	}
	if n := strings.Count(s.log.String(), "update by acme.example.com."); n < 2 {
		t.Errorf("%d updates logged, want the challenge records added and deleted:\n%s", n, s.log)
	}
}
