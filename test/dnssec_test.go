package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The zones of the DNSSEC tests: a provider's zone with the mail hosts, and
// a customer's zone whose MX names them, with a CNAME, a wildcard, an empty
// non-terminal and a delegation with glue.
const (
	providerZone = `$ORIGIN provider.test.
$TTL 3600
@ IN SOA ns1 hostmaster 2026113001 7200 3600 1209600 300
@ NS ns1
ns1 A 192.0.2.53
mx1 A 192.0.2.25
mx1 AAAA 2001:db8::25
`
	customerZone = `$ORIGIN customer.test.
$TTL 3600
@ IN SOA ns1.provider.test. hostmaster 5 7200 3600 1209600 300
@ NS ns1.provider.test.
@ MX 10 mx1.provider.test.
@ TXT "v=spf1 -all"
www CNAME @
*.wild A 192.0.2.80
a.b.c A 192.0.2.1
sub NS ns.sub
ns.sub A 192.0.2.99
`
)

// dnssecCorefile is the mxzone block of a signing server with state in
// state and the given denial of existence.
func dnssecBlock(state, denial string) string {
	return fmt.Sprintf("        reload 1h\n        state %s\n        dnssec {\n            %s\n        }", state, denial)
}

// startSigner runs coredns-mx signing dir with AXFR open to loopback.
func startSigner(t *testing.T, dir, state, denial string) *server {
	t.Helper()
	return startServer(t, dir, dnssecBlock(state, denial), "transfer {\n        to 127.0.0.1\n    }")
}

// TestDNSSECValidates: every signed zone, taken by AXFR, passes
// dnssec-verify and kzonecheck; answers of every kind validate with delv
// given the zone's key as trust anchor, with NSEC and with NSEC3; the
// additional addresses from the provider's zone carry signatures that
// verify with the provider's key; without DO nothing of DNSSEC is added;
// and after a restart with a broken zone file, the last good signed
// version is served and still validates.
func TestDNSSECValidates(t *testing.T) {
	delv := requireTool(t, "delv")
	verify := requireTool(t, "dnssec-verify")
	kzonecheck := requireTool(t, "kzonecheck")
	for _, denial := range []string{"nsec", "nsec3"} {
		t.Run(denial, func(t *testing.T) {
			dir, state := t.TempDir(), t.TempDir()
			writeAtomic(t, filepath.Join(dir, "provider.test.zone"), providerZone)
			writeAtomic(t, filepath.Join(dir, "customer.test.zone"), customerZone)
			s := startSigner(t, dir, state, denial)
			for _, origin := range []string{"customer.test.", "provider.test."} {
				rrs := axfr(t, s.addr, origin)
				checkChain(t, rrs, denial)
				file := filepath.Join(t.TempDir(), origin+"axfr")
				writeRecords(t, file, rrs)
				runTool(t, verify, "-z", "-o", origin, file)
				runTool(t, kzonecheck, "--dnssec", "on", "-o", origin, file)
			}
			anchors := trustAnchor(t, s.addr, "customer.test.")
			cases := []struct{ qtype, name, want string }{
				{"MX", "customer.test.", "; fully validated"},
				{"A", "www.customer.test.", "; fully validated"},                     // a CNAME to a name without A
				{"A", "x.wild.customer.test.", "; fully validated"},                  // a wildcard answer
				{"A", "nope.customer.test.", "; negative response, fully validated"}, // NXDOMAIN
				{"A", "x.nope.b.c.customer.test.", "; negative response, fully validated"},
				{"AAAA", "customer.test.", "; negative response, fully validated"},       // NODATA
				{"A", "b.c.customer.test.", "; negative response, fully validated"},      // an empty non-terminal
				{"TXT", "x.wild.customer.test.", "; negative response, fully validated"}, // wildcard NODATA
				{"DS", "sub.customer.test.", "; negative response, fully validated"},     // an insecure delegation
				{"DNSKEY", "customer.test.", "; fully validated"},
			}
			for _, c := range cases {
				out := delvAsk(t, delv, anchors, s.addr, "customer.test.", c.qtype, c.name)
				if !strings.Contains(out, c.want+"\n") {
					t.Errorf("delv %s %s: want %q in:\n%s", c.qtype, c.name, c.want, out)
				}
			}
			checkCrossZoneSignatures(t, s.addr)
			checkWithoutDO(t, s.addr)
			checkDSCommand(t, s)
			serial, _ := soaSerial(s.addr, "customer.test.")

			// Broken while the server is down: the restart serves the last
			// good signed version, which still validates.
			s.cmd.Process.Signal(syscall.SIGTERM)
			s.cmd.Wait()
			writeAtomic(t, filepath.Join(dir, "customer.test.zone"), customerZone+"broken IN A not-an-address\n")
			s = startSigner(t, dir, state, denial)
			// Served from the start snapshot at once; the file is read
			// behind it, and found broken, the copy keeps serving.
			waitFor(t, 10*time.Second, "the restart saying the copy serves", func() bool {
				return strings.Contains(s.log.String(), "served from its saved last good copy")
			})
			if got, _ := soaSerial(s.addr, "customer.test."); got != serial {
				t.Errorf("serial after the restart %d, want %d: the signed copy, not a new signing", got, serial)
			}
			for _, c := range cases[:4] {
				out := delvAsk(t, delv, anchors, s.addr, "customer.test.", c.qtype, c.name)
				if !strings.Contains(out, c.want+"\n") {
					t.Errorf("after the restart, delv %s %s: want %q in:\n%s", c.qtype, c.name, c.want, out)
				}
			}
		})
	}
}

// TestDNSSECEditResigns: an edit is served signed, with a serial that goes
// up even when the file's does not; a refused edit keeps the signed
// version; the key survives the zone's deletion and return.
func TestDNSSECEditResigns(t *testing.T) {
	delv := requireTool(t, "delv")
	dir, state := t.TempDir(), t.TempDir()
	writeAtomic(t, filepath.Join(dir, "provider.test.zone"), providerZone)
	writeAtomic(t, filepath.Join(dir, "customer.test.zone"), customerZone)
	statusAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s := startServer(t, dir, strings.Replace(dnssecBlock(state, "nsec"), "reload 1h", "reload 1s", 1)+"\n        status "+statusAddr)
	anchors := trustAnchor(t, s.addr, "customer.test.")
	checkStatusDS(t, s.addr, statusAddr)
	before, _ := soaSerial(s.addr, "customer.test.")
	// The same serial in the file: the served one goes up all the same.
	writeAtomic(t, filepath.Join(dir, "customer.test.zone"), customerZone+"new A 192.0.2.7\n")
	waitFor(t, 10*time.Second, "the edit", func() bool {
		return len(ask(t, s.addr, "udp", "new.customer.test.", dns.TypeA).Answer) > 0
	})
	series := `coredns_mxzone_dnssec_signings_total{result="signed",server="dns://` + s.addr + `"}`
	if got := s.metric(t, series); got != 3 {
		t.Errorf("%s = %v, want 3 (two zones at the start, one edit)", series, got)
	}
	after, _ := soaSerial(s.addr, "customer.test.")
	if after != before+1 {
		t.Errorf("serial after an edit that kept the file's serial: %d, want %d", after, before+1)
	}
	if out := delvAsk(t, delv, anchors, s.addr, "customer.test.", "A", "new.customer.test."); !strings.Contains(out, "; fully validated\n") {
		t.Errorf("the edit does not validate:\n%s", out)
	}
	// A broken edit is refused; the signed version stays.
	writeAtomic(t, filepath.Join(dir, "customer.test.zone"), customerZone+"new A 192.0.2.7\nbad MX 10 192.0.2.1\n")
	waitFor(t, 10*time.Second, "the refusal", func() bool { return strings.Contains(s.log.String(), "customer.test.zone:13: error") })
	if out := delvAsk(t, delv, anchors, s.addr, "customer.test.", "A", "new.customer.test."); !strings.Contains(out, "; fully validated\n") {
		t.Errorf("after a refused edit:\n%s", out)
	}
	// Deleted and added again: the same key signs.
	os.Remove(filepath.Join(dir, "customer.test.zone"))
	waitFor(t, 10*time.Second, "the deletion", func() bool {
		return ask(t, s.addr, "udp", "customer.test.", dns.TypeSOA).Rcode != dns.RcodeSuccess
	})
	writeAtomic(t, filepath.Join(dir, "customer.test.zone"), customerZone)
	waitFor(t, 10*time.Second, "the zone back", func() bool {
		return ask(t, s.addr, "udp", "customer.test.", dns.TypeSOA).Rcode == dns.RcodeSuccess
	})
	if out := delvAsk(t, delv, anchors, s.addr, "customer.test.", "MX", "customer.test."); !strings.Contains(out, "; fully validated\n") {
		t.Errorf("the zone added again does not validate with its first key:\n%s", out)
	}
}

// checkStatusDS: the status API gives the DS record of a signed zone, the
// DS of the DNSKEY served, and no private key material.
func checkStatusDS(t *testing.T, dnsAddr, statusAddr string) {
	t.Helper()
	resp, err := http.Get("http://" + statusAddr + "/zones/customer.test")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		DNSSEC *struct {
			DS     []string `json:"ds"`
			Denial string   `json:"denial"`
		} `json:"dnssec"`
	}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &d); err != nil || d.DNSSEC == nil || len(d.DNSSEC.DS) != 1 || d.DNSSEC.Denial != "nsec" {
		t.Fatalf("status API for a signed zone: %v\n%s", err, body)
	}
	key := ask(t, dnsAddr, "udp", "customer.test.", dns.TypeDNSKEY).Answer[0].(*dns.DNSKEY)
	if want := key.ToDS(dns.SHA256).String(); d.DNSSEC.DS[0] != want {
		t.Errorf("status API DS %q, want %q", d.DNSSEC.DS[0], want)
	}
	if strings.Contains(strings.ToLower(string(body)), "private") {
		t.Errorf("the status API shows key material:\n%s", body)
	}
}

// axfr takes zone from addr.
func axfr(t *testing.T, addr, zone string) []dns.RR {
	t.Helper()
	m := new(dns.Msg)
	m.SetAxfr(zone)
	env, err := new(dns.Transfer).In(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	var rrs []dns.RR
	for e := range env {
		if e.Error != nil {
			t.Fatalf("AXFR %s: %v", zone, e.Error)
		}
		rrs = append(rrs, e.RR...)
	}
	if len(rrs) < 2 {
		t.Fatalf("AXFR %s: %d records", zone, len(rrs))
	}
	return rrs[:len(rrs)-1] // the closing SOA
}

// checkChain checks that the transfer holds the chain asked for and the
// apex records a registry reads.
func checkChain(t *testing.T, rrs []dns.RR, denial string) {
	t.Helper()
	count := map[uint16]int{}
	for _, rr := range rrs {
		count[rr.Header().Rrtype]++
	}
	chain, other := dns.TypeNSEC, dns.TypeNSEC3
	if denial == "nsec3" {
		chain, other = other, chain
	}
	if count[chain] == 0 || count[other] != 0 || count[dns.TypeDNSKEY] != 1 || count[dns.TypeCDS] != 1 || count[dns.TypeCDNSKEY] != 1 {
		t.Errorf("%s: the transfer holds %v", denial, count)
	}
}

// writeRecords writes rrs as a zone file.
func writeRecords(t *testing.T, path string, rrs []dns.RR) {
	t.Helper()
	var b strings.Builder
	for _, rr := range rrs {
		b.WriteString(rr.String() + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runTool runs a checking tool and fails the test with its output if it fails.
func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

// trustAnchor writes a delv trust-anchors file holding zone's DNSKEY as
// served by addr.
func trustAnchor(t *testing.T, addr, zone string) string {
	t.Helper()
	resp := ask(t, addr, "udp", zone, dns.TypeDNSKEY)
	var b strings.Builder
	b.WriteString("trust-anchors {\n")
	for _, rr := range resp.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok {
			fmt.Fprintf(&b, "  %s static-key %d %d %d %q;\n", zone, k.Flags, k.Protocol, k.Algorithm, k.PublicKey)
		}
	}
	b.WriteString("};\n")
	path := filepath.Join(t.TempDir(), "anchors.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// delvAsk asks addr with delv, validating from the trust anchor of root.
func delvAsk(t *testing.T, delv, anchors, addr, root, qtype, name string) string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	out, _ := exec.Command(delv, "-a", anchors, "+root="+root, "@"+host, "-p", port, "+tcp", qtype, name).CombinedOutput()
	return string(out)
}

// checkCrossZoneSignatures: the addresses of the customer's MX host, from
// the provider's zone, come with the provider's signatures, which verify
// with the provider's key.
func checkCrossZoneSignatures(t *testing.T, addr string) {
	t.Helper()
	keys := ask(t, addr, "udp", "provider.test.", dns.TypeDNSKEY)
	var key *dns.DNSKEY
	for _, rr := range keys.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok {
			key = k
		}
	}
	if key == nil {
		t.Fatal("provider.test. has no DNSKEY")
	}
	resp := ask(t, addr, "udp", "customer.test.", dns.TypeMX, true)
	sets := map[uint16][]dns.RR{}
	var sigs []*dns.RRSIG
	for _, rr := range resp.Extra {
		switch v := rr.(type) {
		case *dns.RRSIG:
			sigs = append(sigs, v)
		case *dns.A, *dns.AAAA:
			sets[rr.Header().Rrtype] = append(sets[rr.Header().Rrtype], rr)
		}
	}
	if len(sets) != 2 || len(sigs) != 2 {
		t.Fatalf("additional section of MX with DO: %v", resp.Extra)
	}
	for _, sig := range sigs {
		if sig.SignerName != "provider.test." {
			t.Errorf("the additional %s is signed by %s", dns.TypeToString[sig.TypeCovered], sig.SignerName)
		}
		if err := sig.Verify(key, sets[sig.TypeCovered]); err != nil {
			t.Errorf("the additional %s does not verify with the provider's key: %v", dns.TypeToString[sig.TypeCovered], err)
		}
	}
}

// checkWithoutDO: without DO, answers of a signed zone carry no RRSIG,
// NSEC or NSEC3 records; with DO, the same questions do.
func checkWithoutDO(t *testing.T, addr string) {
	t.Helper()
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"customer.test.", dns.TypeMX}, {"nope.customer.test.", dns.TypeA}, {"customer.test.", dns.TypeAAAA}, {"x.wild.customer.test.", dns.TypeA}} {
		plain, signed := ask(t, addr, "udp", q.name, q.qtype), ask(t, addr, "udp", q.name, q.qtype, true)
		if n := dnssecRecords(plain); n != 0 {
			t.Errorf("%s %s without DO: %d DNSSEC records:\n%v", q.name, dns.TypeToString[q.qtype], n, plain)
		}
		if dnssecRecords(signed) == 0 {
			t.Errorf("%s %s with DO: no DNSSEC records:\n%v", q.name, dns.TypeToString[q.qtype], signed)
		}
		if plain.Rcode != signed.Rcode || len(plain.Answer) > len(signed.Answer) {
			t.Errorf("%s %s: the answers with and without DO differ:\n%v\n%v", q.name, dns.TypeToString[q.qtype], plain, signed)
		}
	}
}

// dnssecRecords counts the RRSIG, NSEC and NSEC3 records of a reply.
func dnssecRecords(m *dns.Msg) int {
	n := 0
	for _, section := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range section {
			switch rr.Header().Rrtype {
			case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3:
				n++
			}
		}
	}
	return n
}

// TestKnotSecondarySigned: a Knot DNS secondary provisioned by the catalog
// transfers the signed zones and answers queries with DO set exactly as
// the primary does (the one allowed difference: the primary's addresses
// from its other zones), and takes a signed edit by NOTIFY.
func TestKnotSecondarySigned(t *testing.T) {
	dir, state := copyDir(t, "../zones"), t.TempDir()
	origins, names := zoneNames(t, dir)
	knotPort := freePort(t)
	knotAddr := fmt.Sprintf("127.0.0.1:%d", knotPort)
	mx := startServer(t, dir, dnssecBlock(state, "nsec3")+"\n        catalog "+catalogZone,
		"transfer {\n        to "+knotAddr+"\n    }")
	knot := startKnotSecondary(t, knotPort, mx.addr)
	hasSerial(t, knot, origins, 0, 30*time.Second, "Knot to provision every zone from the catalog")
	if n := compareAnswers(t, knot, mx.addr, origins, names, true); n < 100 {
		t.Fatalf("only %d comparisons", n)
	}
	for _, origin := range origins {
		if resp := ask(t, knot, "udp", origin, dns.TypeDNSKEY, true); len(resp.Answer) != 2 {
			t.Errorf("Knot's DNSKEY answer for %s: %v", origin, resp.Answer)
		}
	}
}

// checkDSCommand: "coredns-mx dnssec ds" prints the DS record of the key
// that signs the zone as served (the DS of its DNSKEY, and its CDS), and
// refuses a zone that has no key.
func checkDSCommand(t *testing.T, s *server) {
	t.Helper()
	out, err := exec.Command(binary, "dnssec", "ds", "--conf", s.conf, "customer.test").CombinedOutput()
	if err != nil {
		t.Fatalf("dnssec ds: %v\n%s", err, out)
	}
	ds, err := dns.NewRR(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("dnssec ds printed %q: %v", out, err)
	}
	key := ask(t, s.addr, "udp", "customer.test.", dns.TypeDNSKEY).Answer[0].(*dns.DNSKEY)
	want := key.ToDS(dns.SHA256)
	cds := ask(t, s.addr, "udp", "customer.test.", dns.TypeCDS).Answer[0].(*dns.CDS)
	got := ds.(*dns.DS)
	if got.KeyTag != want.KeyTag || !strings.EqualFold(got.Digest, want.Digest) || got.DigestType != dns.SHA256 || !strings.EqualFold(cds.Digest, want.Digest) {
		t.Errorf("dnssec ds: %q %q %q; DS of the served DNSKEY %v; CDS %v", got.Digest, want.Digest, cds.Digest, want, cds)
	}
	if out, err := exec.Command(binary, "dnssec", "ds", "--conf", s.conf, "unknown.test").CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "unknown.test. has no key yet") {
		t.Errorf("dnssec ds of a zone never signed: %v\n%s", err, out)
	}
}
