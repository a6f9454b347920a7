package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestUpdateIXFR: kdig IXFR from a serial the journal holds gets the
// difference, whose size follows the change; from one it does not, the
// whole zone; knsupdate (Knot's client) takes part too.
func TestUpdateIXFR(t *testing.T) {
	kdig := requireTool(t, "kdig")
	knsupdate := requireTool(t, "knsupdate")
	u := newUpdateSetup(t)
	s := u.start(t)
	start := serialOf(t, s, "example.com.")
	host, port, _ := strings.Cut(s.addr, ":")
	cmd := exec.Command(knsupdate, "-y", u.acme.y())
	cmd.Stdin = strings.NewReader(fmt.Sprintf("server %s %s\nzone example.com.\nupdate add _acme-challenge.example.com. 60 TXT \"knot\"\nsend\n", host, port))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("knsupdate: %v\n%s", err, out)
	}
	if got := answers(t, s, "_acme-challenge.example.com.", dns.TypeTXT); got != `"knot"` {
		t.Fatalf("after knsupdate: %s", got)
	}
	ixfr := func(serial uint32) []string {
		out, err := exec.Command(kdig, "@"+host, "-p", port, "+tcp", "+nocomments", "+nostats", "example.com.", fmt.Sprintf("IXFR=%d", serial)).CombinedOutput()
		if err != nil {
			t.Fatalf("kdig: %v\n%s", err, out)
		}
		var lines []string
		for _, l := range strings.Split(string(out), "\n") {
			if l != "" && !strings.HasPrefix(l, ";") {
				lines = append(lines, strings.Join(strings.Fields(l), " "))
			}
		}
		return lines
	}
	got := ixfr(start)
	want := []string{"SOA", "SOA", "SOA", `TXT "knot"`, "SOA"}
	if len(got) != len(want) {
		t.Fatalf("IXFR=%d: %d records, want %d (new SOA, old SOA, new SOA, the TXT, new SOA):\n%s", start, len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(got[i], " "+w) {
			t.Errorf("IXFR record %d: %q, want %s", i, got[i], w)
		}
	}
	// Ten more changes: the difference from the start grows with them.
	for i := range 10 {
		if out, ok := nsupdate(t, s, fmt.Sprintf("zone example.com\nupdate add _acme-challenge.example.com. 60 IN TXT \"t%d\"", i), "-y", u.acme.y()); !ok {
			t.Fatal(out)
		}
	}
	if n := len(ixfr(start)); n <= len(want) || n > 200 {
		t.Errorf("IXFR after 11 changes: %d records", n)
	}
	// external-dns reads a zone by AXFR signed with its update key: the
	// transfer is signed back, and kdig checks every message's MAC.
	signed, err := exec.Command(kdig, "@"+host, "-p", port, "+tcp", "-y", u.acme.y(), "example.com.", "AXFR").CombinedOutput()
	if err != nil || !strings.Contains(string(signed), "mail1.example.com.") || strings.Contains(string(signed), "TSIG") && strings.Contains(string(signed), "error") {
		t.Errorf("TSIG-signed AXFR: %v\n%s", err, signed)
	}
	axfr := ixfr(start - 1) // older than the journal: the whole zone
	if len(axfr) < 20 || !strings.Contains(strings.Join(axfr, "\n"), "mail1.example.com.") {
		t.Errorf("IXFR from a serial not held: want the whole zone, got:\n%s", strings.Join(axfr, "\n"))
	}
}

// TestUpdateSigned: an update of a signed zone is served signed right after
// the ack: delv validates the new record and, once it is deleted, the
// denial of it, with the zone's key as trust anchor; the signed zone taken
// by AXFR still passes dnssec-verify; IXFR carries the new signatures.
func TestUpdateSigned(t *testing.T) {
	delv := requireTool(t, "delv")
	verify := requireTool(t, "dnssec-verify")
	kdig := requireTool(t, "kdig")
	u := newUpdateSetup(t)
	s := u.start(t, "dnssec {\n            nsec3\n        }")
	anchors := trustAnchor(t, s.addr, "example.com.")
	start := serialOf(t, s, "example.com.")
	if out, ok := nsupdate(t, s, "zone example.com\nupdate add _acme-challenge.example.com. 60 IN TXT \"signed\"", "-y", u.acme.y()); !ok {
		t.Fatal(out)
	}
	if out := delvAsk(t, delv, anchors, s.addr, "example.com.", "TXT", "_acme-challenge.example.com."); !strings.Contains(out, "; fully validated\n") || !strings.Contains(out, `"signed"`) {
		t.Fatalf("delv after the update:\n%s", out)
	}
	if out, ok := nsupdate(t, s, "zone example.com\nupdate delete _acme-challenge.example.com. TXT", "-y", u.acme.y()); !ok {
		t.Fatal(out)
	}
	if out := delvAsk(t, delv, anchors, s.addr, "example.com.", "TXT", "_acme-challenge.example.com."); !strings.Contains(out, "; negative response, fully validated\n") {
		t.Fatalf("delv after the deletion:\n%s", out)
	}
	if got := serialOf(t, s, "example.com."); got != start+2 {
		t.Fatalf("serial %d after two updates, want %d", got, start+2)
	}
	host, port, _ := strings.Cut(s.addr, ":")
	axfr, err := exec.Command(kdig, "@"+host, "-p", port, "+tcp", "+nocomments", "+nostats", "example.com.", "AXFR").Output()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "example.com.axfr")
	os.WriteFile(file, axfr, 0o644)
	runTool(t, verify, "-z", "-o", "example.com.", file)
	ixfr, err := exec.Command(kdig, "@"+host, "-p", port, "+tcp", "+nocomments", "+nostats", "example.com.", fmt.Sprintf("IXFR=%d", start)).Output()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(ixfr), "\tRRSIG\t"); n == 0 || n > 40 || !strings.Contains(string(ixfr), "\tNSEC3\t") {
		t.Errorf("IXFR of two signed updates: %d RRSIGs, NSEC3 changes: want the few that changed:\n%s", n, ixfr)
	}
}

// TestUpdateKnotSecondary: Knot DNS as a secondary of example.com takes
// incremental transfers after an update and after a file edit, unsigned
// and signed (the steps then carry the new signatures and NSEC records):
// its log says IXFR, and it serves the change.
func TestUpdateKnotSecondary(t *testing.T) {
	for _, signed := range []bool{false, true} {
		t.Run(map[bool]string{false: "unsigned", true: "signed"}[signed], func(t *testing.T) { knotSecondary(t, signed) })
	}
}

func knotSecondary(t *testing.T, signed bool) {
	knotd := requireTool(t, "knotd")
	u := newUpdateSetup(t)
	knotPort := freePort(t)
	knotAddr := fmt.Sprintf("127.0.0.1:%d", knotPort)
	u.xfrTo = knotAddr
	var s *server
	if signed {
		s = u.start(t, "dnssec")
	} else {
		s = u.start(t)
	}
	run := t.TempDir()
	host, pport, _ := strings.Cut(s.addr, ":")
	conf := fmt.Sprintf(`server:
    listen: 127.0.0.1@%[1]d
    rundir: %[2]s
log:
  - target: stderr
    any: info
database:
    storage: %[2]s
remote:
  - id: primary
    address: %[3]s@%[4]s
acl:
  - id: notify_from_primary
    address: %[3]s
    action: notify
zone:
  - domain: example.com.
    master: primary
    acl: notify_from_primary
    storage: %[2]s
    zonefile-sync: -1
    zonefile-load: none
    journal-content: none
`, knotPort, run, host, pport)
	path := filepath.Join(run, "knot.conf")
	os.WriteFile(path, []byte(conf), 0o644)
	_, knotLog := startProcess(t, "knotd", knotd, "-c", path)
	start := serialOf(t, s, "example.com.")
	waitFor(t, 20*time.Second, "Knot to take the zone", func() bool { got, _ := soaSerial(knotAddr, "example.com."); return got == int64(start) })
	if out, ok := nsupdate(t, s, "zone example.com\nupdate add _acme-challenge.example.com. 60 IN TXT \"via-knot\"", "-y", u.acme.y()); !ok {
		t.Fatal(out)
	}
	waitFor(t, 20*time.Second, "Knot to take the update", func() bool { got, _ := soaSerial(knotAddr, "example.com."); return got == int64(start+1) })
	if got := answers(t, &server{addr: knotAddr}, "_acme-challenge.example.com.", dns.TypeTXT); got != `"via-knot"` {
		t.Fatalf("Knot serves %s", got)
	}
	zoneFile := filepath.Join(u.zones, "example.com.zone")
	text, _ := os.ReadFile(zoneFile)
	writeAtomic(t, zoneFile, string(text)+"edited IN A 192.0.2.78\n")
	waitFor(t, 20*time.Second, "Knot to take the file edit", func() bool { got, _ := soaSerial(knotAddr, "example.com."); return got == int64(start+2) })
	if got := answers(t, &server{addr: knotAddr}, "edited.example.com.", dns.TypeA); got != "192.0.2.78" {
		t.Fatalf("Knot serves %s for the edited name", got)
	}
	if got := answers(t, &server{addr: knotAddr}, "_acme-challenge.example.com.", dns.TypeTXT); got != `"via-knot"` {
		t.Fatalf("after the file edit Knot serves %s for the update's record", got)
	}
	if signed {
		// Knot serves what it took by IXFR: the new record with its signature.
		resp := ask(t, knotAddr, "tcp", "_acme-challenge.example.com.", dns.TypeTXT, true)
		if countType(resp.Answer, dns.TypeRRSIG) != 1 {
			t.Errorf("Knot's answer after the IXFR has %d signatures:\n%s", countType(resp.Answer, dns.TypeRRSIG), resp)
		}
	}
	logText := knotLog.String()
	if n := len(regexp.MustCompile(`IXFR, incoming, .*finished`).FindAllString(logText, -1)); n < 2 || strings.Contains(logText, "AXFR-style IXFR") {
		t.Errorf("want two incremental transfers in Knot's log, found %d:\n%s", n, logText)
	}
}

func countType(rrs []dns.RR, typ uint16) int {
	n := 0
	for _, rr := range rrs {
		if rr.Header().Rrtype == typ {
			n++
		}
	}
	return n
}
