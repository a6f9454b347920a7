package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The zones of the rollover tests: a parent that delegates to a child, both
// signed here, with TTLs of seconds so that each rollover step waits a few
// seconds (TTL 4 s, propagation delay 2 s: RFC 7583's waits, made short).
const (
	rollParent = `$ORIGIN roll.test.
$TTL 4
@ IN SOA ns1 hostmaster 1 7200 3600 1209600 4
@ NS ns1
ns1 A 127.0.0.1
mx1 A 192.0.2.25
child NS ns1
`
	rollChild = `$ORIGIN child.roll.test.
$TTL 4
@ IN SOA ns1.roll.test. hostmaster 1 7200 3600 1209600 4
@ NS ns1.roll.test.
@ MX 10 mx1.roll.test.
www A 192.0.2.81
*.wild A 192.0.2.80
`
)

// keyStatus is what "coredns-mx dnssec status --json" prints.
type keyStatus struct {
	Zone string `json:"zone"`
	Keys struct {
		Keys []struct {
			Role, Algorithm, Use string
			Tag                  uint16
		} `json:"keys"`
		Rollover string `json:"rollover"`
	} `json:"keys"`
}

func dnssecStatus(t *testing.T, s *server, zone string) keyStatus {
	t.Helper()
	cmd := exec.Command(binary, "dnssec", "status", "--json", "--conf", s.conf, zone)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dnssec status %s: %v\n%s%s", zone, err, out, stderr.String())
	}
	var st keyStatus
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("dnssec status %s: %v\n%s", zone, err, out)
	}
	return st
}

// TestRollovers steps a served child through a CSK, an algorithm (ECDSA
// P-256 to Ed25519), a ZSK and a KSK rollover (with a KSK/ZSK split), started by
// "coredns-mx dnssec roll". At every step the status shows, it checks that
// the parent serves the DS of the child's submitted key, that delv
// validates the child's MX, NXDOMAIN, NODATA and wildcard answers from the
// parent's key and from the DS the parent has at that moment, that
// dnssec-verify passes on the child's AXFR (with -z for a CSK), and that a
// Knot secondary serving the same serial gives answers delv validates.
func TestRollovers(t *testing.T) {
	delv := requireTool(t, "delv")
	verify := requireTool(t, "dnssec-verify")
	cases := []struct {
		name, policy string
		roll         []string
		steps        []string // the rollover states the status shows, in order
		split        bool
		finalAlg     string
	}{
		{"csk", "", nil, []string{"csk rollover, step 1", "csk rollover, step 2"}, false, "ECDSAP256SHA256"},
		{"algorithm", "", []string{"--algorithm", "ed25519"}, []string{"algorithm rollover, step 1", "algorithm rollover, step 2",
			"algorithm rollover, step 3", "algorithm rollover, step 4"}, false, "ED25519"},
		{"zsk", "keys split", []string{"--key", "zsk"}, []string{"zsk rollover, step 1", "zsk rollover, step 2"}, true, "ECDSAP256SHA256"},
		{"ksk", "keys split", []string{"--key", "ksk"}, []string{"ksk rollover, step 1", "ksk rollover, step 2"}, true, "ECDSAP256SHA256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, state := t.TempDir(), t.TempDir()
			writeAtomic(t, filepath.Join(dir, "roll.test.zone"), rollParent)
			writeAtomic(t, filepath.Join(dir, "child.roll.test.zone"), rollChild)
			knotPort := freePort(t)
			knotAddr := fmt.Sprintf("127.0.0.1:%d", knotPort)
			block := fmt.Sprintf("        reload 1h\n        state %s\n        catalog %s\n        dnssec {\n            propagation_delay 2s\n            %s\n        }",
				state, catalogZone, tc.policy)
			s := startServer(t, dir, block, "transfer {\n        to 127.0.0.1 "+knotAddr+"\n    }")
			knot := startKnotSecondary(t, knotPort, s.addr)
			hasSerial(t, knot, []string{"child.roll.test.", "roll.test."}, 0, 30*time.Second, "Knot to provision the zones")
			parentAnchor := trustAnchor(t, s.addr, "roll.test.")
			// A zone signed with a split has one key of each role; the CDS
			// names the KSK only.
			waitFor(t, 20*time.Second, "the parent to serve the child's DS", func() bool { return parentHasChildDS(t, s) })

			check := func(label string) {
				t.Helper()
				checkRolloverStep(t, label, s, knot, delv, verify, parentAnchor, tc.split)
			}
			check("before")
			args := append([]string{"dnssec", "roll", "--conf", s.conf}, tc.roll...)
			if out, err := exec.Command(binary, append(args, "child.roll.test")...).CombinedOutput(); err != nil {
				t.Fatalf("dnssec roll: %v\n%s", err, out)
			}
			seen := 0
			waitFor(t, 120*time.Second, "the rollover to go through every step", func() bool {
				st := dnssecStatus(t, s, "child.roll.test").Keys.Rollover
				if seen < len(tc.steps) && strings.HasPrefix(st, tc.steps[seen]) {
					check(st)
					seen++
				}
				if st == "no rollover in progress" && seen > 0 {
					return true
				}
				for i := seen + 1; i < len(tc.steps); i++ {
					if strings.HasPrefix(st, tc.steps[i]) {
						t.Fatalf("step %q went by unchecked (now %q)", tc.steps[seen], st)
					}
				}
				return false
			})
			if seen != len(tc.steps) {
				t.Fatalf("saw %d of the steps %q", seen, tc.steps)
			}
			check("after")
			st := dnssecStatus(t, s, "child.roll.test")
			inService := 0
			for _, k := range st.Keys.Keys {
				if k.Use != "retired" {
					inService++
					if k.Algorithm != tc.finalAlg {
						t.Errorf("after the rollover a key of %s: %+v", k.Algorithm, st.Keys.Keys)
					}
				}
			}
			if want := map[bool]int{false: 1, true: 2}[tc.split]; inService != want {
				t.Errorf("after the rollover %d keys in service, want %d: %+v", inService, want, st.Keys.Keys)
			}
		})
	}
}

// parentHasChildDS reports whether the parent serves, as the child's DS,
// exactly the DS of the child's CDS.
func parentHasChildDS(t *testing.T, s *server) bool {
	ds := ask(t, s.addr, "udp", "child.roll.test.", dns.TypeDS).Answer
	cds := ask(t, s.addr, "udp", "child.roll.test.", dns.TypeCDS).Answer
	if len(ds) == 0 || len(ds) != len(cds) {
		return false
	}
	for i := range ds {
		d, ok1 := ds[i].(*dns.DS)
		c, ok2 := cds[i].(*dns.CDS)
		if !ok1 || !ok2 || d.KeyTag != c.KeyTag || !strings.EqualFold(d.Digest, c.Digest) {
			return false
		}
	}
	return true
}

// dsAnchor writes a delv trust-anchors file holding the DS of child that
// addr serves (static-ds).
func dsAnchor(t *testing.T, addr, child string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("trust-anchors {\n")
	for _, rr := range ask(t, addr, "udp", child, dns.TypeDS).Answer {
		if d, ok := rr.(*dns.DS); ok {
			fmt.Fprintf(&b, "  %s static-ds %d %d %d %q;\n", child, d.KeyTag, d.Algorithm, d.DigestType, d.Digest)
		}
	}
	b.WriteString("};\n")
	path := filepath.Join(t.TempDir(), "ds-anchors.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkRolloverStep checks one moment of a rollover (see TestRollovers).
func checkRolloverStep(t *testing.T, label string, s *server, knot, delv, verify, parentAnchor string, split bool) {
	t.Helper()
	const child = "child.roll.test."
	dsFile := dsAnchor(t, s.addr, child)
	questions := []struct{ qtype, name, want string }{
		{"MX", child, "; fully validated"},
		{"A", "nope.child.roll.test.", "; negative response, fully validated"},
		{"TXT", "www.child.roll.test.", "; negative response, fully validated"},
		{"A", "x.wild.child.roll.test.", "; fully validated"},
	}
	for _, q := range questions {
		if out := delvAsk(t, delv, parentAnchor, s.addr, "roll.test.", q.qtype, q.name); !strings.Contains(out, q.want) {
			t.Errorf("%s: delv %s %s from the parent's key: %s", label, q.qtype, q.name, out)
		}
		if out := delvAsk(t, delv, dsFile, s.addr, child, q.qtype, q.name); !strings.Contains(out, q.want) {
			t.Errorf("%s: delv %s %s from the parent's DS: %s", label, q.qtype, q.name, out)
		}
	}
	rrs := axfr(t, s.addr, child)
	file := filepath.Join(t.TempDir(), "child.axfr")
	writeRecords(t, file, rrs)
	if split {
		runTool(t, verify, "-o", child, file)
	} else {
		runTool(t, verify, "-z", "-o", child, file)
	}
	serial, _ := soaSerial(s.addr, child)
	hasSerial(t, knot, []string{child}, serial, 30*time.Second, label+": Knot to take the child's serial")
	for _, q := range questions {
		if out := delvAsk(t, delv, dsFile, knot, child, q.qtype, q.name); !strings.Contains(out, q.want) {
			t.Errorf("%s: delv %s %s at the Knot secondary: %s", label, q.qtype, q.name, out)
		}
	}
	if t.Failed() {
		t.Fatalf("%s: the AXFR:\n%s", label, recordsText(rrs))
	}
}

func recordsText(rrs []dns.RR) string {
	var b strings.Builder
	for _, rr := range rrs {
		b.WriteString(rr.String() + "\n")
	}
	return b.String()
}

// TestRolloverSurvivesKill: a server killed (SIGKILL) in the middle of a
// CSK rollover resumes it where it stopped when started again on the same
// state directory, and every answer validates from the parent's key before
// the kill, after the restart and at the end.
func TestRolloverSurvivesKill(t *testing.T) {
	delv := requireTool(t, "delv")
	dir, state := t.TempDir(), t.TempDir()
	writeAtomic(t, filepath.Join(dir, "roll.test.zone"), rollParent)
	writeAtomic(t, filepath.Join(dir, "child.roll.test.zone"), rollChild)
	block := fmt.Sprintf("        reload 1h\n        state %s\n        dnssec {\n            propagation_delay 2s\n        }", state)
	s := startServer(t, dir, block)
	anchor := trustAnchor(t, s.addr, "roll.test.")
	validates := func(label string, s *server) {
		t.Helper()
		waitFor(t, 20*time.Second, label+": the parent to serve the child's DS", func() bool { return parentHasChildDS(t, s) })
		if out := delvAsk(t, delv, anchor, s.addr, "roll.test.", "MX", "child.roll.test."); !strings.Contains(out, "; fully validated") {
			t.Errorf("%s: delv MX: %s", label, out)
		}
	}
	validates("before", s)
	if out, err := exec.Command(binary, "dnssec", "roll", "--conf", s.conf, "child.roll.test").CombinedOutput(); err != nil {
		t.Fatalf("dnssec roll: %v\n%s", err, out)
	}
	waitFor(t, 30*time.Second, "step 2", func() bool {
		return strings.HasPrefix(dnssecStatus(t, s, "child.roll.test").Keys.Rollover, "csk rollover, step 2")
	})
	validates("step 2", s)
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
	if st := dnssecStatus(t, s, "child.roll.test").Keys.Rollover; !strings.HasPrefix(st, "csk rollover, step 2") {
		t.Fatalf("after the kill the state says %q", st)
	}
	s2 := startServer(t, dir, block)
	validates("restarted", s2)
	waitFor(t, 60*time.Second, "the rollover to finish after the restart", func() bool {
		return dnssecStatus(t, s2, "child.roll.test").Keys.Rollover == "no rollover in progress"
	})
	validates("after", s2)
	keys := ask(t, s2.addr, "udp", "child.roll.test.", dns.TypeDNSKEY).Answer
	if len(keys) != 1 {
		t.Errorf("after the rollover the child publishes %d keys, want 1: %v", len(keys), keys)
	}
	// The key files stay readable by the server alone.
	files, _ := filepath.Glob(filepath.Join(state, "keys", "child.roll.test.", "*"))
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v", f, fi.Mode().Perm(), err)
		}
	}
}
