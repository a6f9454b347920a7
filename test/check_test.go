package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/miekg/dns"
)

func TestCheckCommand(t *testing.T) {
	t.Run("shipped zones are clean", func(t *testing.T) {
		out, err := exec.Command(binary, "check", "../zones").CombinedOutput()
		if err != nil {
			t.Fatalf("exit %v:\n%s", err, out)
		}
	})
	bad := t.TempDir()
	zone := "$TTL 3600\n@ SOA ns1 host 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n@ MX 10 alias\nalias CNAME ns1\n"
	if err := os.WriteFile(filepath.Join(bad, "bad.example.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("text", func(t *testing.T) {
		cmd := exec.Command(binary, "check", bad)
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 1 {
			t.Fatalf("exit %d (%v), want 1:\n%s", code, err, out)
		}
		want := filepath.Join(bad, "bad.example.zone") + ":5: error: bad.example.: exchange alias.bad.example. is a CNAME for ns1.bad.example."
		if !strings.Contains(string(out), want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	})
	t.Run("json", func(t *testing.T) {
		out, _ := exec.Command(binary, "check", "--format", "json", bad).Output()
		var findings []map[string]any
		if err := json.Unmarshal(out, &findings); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		if len(findings) != 1 || findings[0]["rule"] != "mx_target_cname" || findings[0]["line"] != 5.0 ||
			findings[0]["zone"] != "bad.example." || findings[0]["severity"] != "error" {
			t.Fatalf("findings %v", findings)
		}
	})
	t.Run("one zone on standard input, with the shipped zones and a rule's severity", func(t *testing.T) {
		cmd := exec.Command(binary, "check", "--rule", "mx_target_cname=warn", "--origin", "bad.example", "-", "../zones")
		cmd.Stdin = strings.NewReader(zone)
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("exit %d (%v), want 0 with the rule at warn:\n%s", code, err, out)
		}
		if want := "-:5: warning: bad.example.: exchange alias.bad.example. is a CNAME"; !strings.Contains(string(out), want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	})
	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{{"check"}, {"check", "--format", "xml", bad}, {"check", "/nonexistent"},
			{"check", "-"}, {"check", "--rule", "nope=fail", bad}} {
			cmd := exec.Command(binary, args...)
			cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != 2 {
				t.Errorf("%v: exit %d, want 2", args, code)
			}
		}
	})
}

// TestCheckUnreadableFile: a zone file the server may not read is refused
// with the reason, and the zone beside it is still served. Root reads every
// file, so as root the check runs as the unprivileged user nobody.
func TestCheckUnreadableFile(t *testing.T) {
	dir, err := os.MkdirTemp("", "unreadable")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	zone := "$TTL 3600\n@ SOA ns1 host 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n"
	if err := os.WriteFile(filepath.Join(dir, "good.example.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret.example.zone"), []byte(zone), 0o000); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "check", "--format", "json", dir)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	out, _ := cmd.Output()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	var findings []map[string]any
	if err := json.Unmarshal(out, &findings); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(findings) != 1 || findings[0]["zone"] != "secret.example." ||
		!strings.Contains(findings[0]["message"].(string), "cannot read the zone file: permission denied") {
		t.Fatalf("want one finding on secret.example. saying permission denied, got %v", findings)
	}
}

// TestCheckConfAgreesWithServer: `check --conf` with the server's Corefile
// refuses exactly the zones the server refuses, for the same reasons.
func TestCheckConfAgreesWithServer(t *testing.T) {
	dir := copyDir(t, "../zones")
	head := "$TTL 3600\n@ SOA ns1.example.net. h.example.net. 1 7200 3600 1209600 300\n@ NS ns1.example.net.\n"
	big := head
	for i := range 40 {
		big += fmt.Sprintf("h%d A 192.0.2.%d\n", i, i+1)
	}
	writeAtomic(t, filepath.Join(dir, "open.example.zone"), head+"@ MX 10 mx1.example.net.\n@ TXT \"v=spf1 mx +all\"\n")
	writeAtomic(t, filepath.Join(dir, "big.example.zone"), big)
	s := startServer(t, dir, "        reload 0\n        spf_permissive warn\n        max_records 40")

	cmd := exec.Command(binary, "check", "--format", "json", "--conf", s.conf, dir)
	out, _ := cmd.Output()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("check --conf: exit %d, want 1:\n%s", code, out)
	}
	var findings []struct{ Zone, Severity, Rule string }
	if err := json.Unmarshal(out, &findings); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	refused := map[string]bool{}
	for _, f := range findings {
		if f.Severity == "error" {
			refused[f.Zone] = true
		}
	}
	origins := zoneOrigins(dir)
	if len(origins) != 7 {
		t.Fatalf("zone files: %v", origins)
	}
	for _, o := range origins {
		rcode := ask(t, s.addr, "udp", o, dns.TypeSOA).Rcode
		if servedByServer := rcode == dns.RcodeSuccess; servedByServer == refused[o] {
			t.Errorf("%s: the server answers %s, check says refused: %v", o, dns.RcodeToString[rcode], refused[o])
		}
	}
	if !refused["big.example."] || refused["open.example."] {
		t.Fatalf("check --conf did not apply the Corefile's limit and severity: refused %v", refused)
	}
}
