package test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const answersDir = "../plugin/mxzone/testdata/answers"

func TestServesOverUDPAndTCP(t *testing.T) {
	s := startServer(t, copyDir(t, answersDir), "reload 0")
	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			resp := ask(t, s.addr, proto, "Example.ORG.", dns.TypeMX)
			if resp.Rcode != dns.RcodeSuccess || !resp.Authoritative || len(resp.Answer) != 2 {
				t.Fatalf("reply:\n%v", resp)
			}
			if resp.Question[0].Name != "Example.ORG." {
				t.Errorf("question not echoed as sent: %q", resp.Question[0].Name)
			}
			extra := map[string]bool{}
			for _, rr := range resp.Extra {
				if rr.Header().Rrtype != dns.TypeOPT {
					extra[rr.Header().Name+" "+dns.TypeToString[rr.Header().Rrtype]] = true
				}
			}
			for _, want := range []string{"mx1.example.net. A", "mx1.example.net. AAAA", "mx2.example.net. A"} {
				if !extra[want] {
					t.Errorf("additional lacks %s (the MX target lives in another served zone): %v", want, extra)
				}
			}
			if r := ask(t, s.addr, proto, "nothing.example.", dns.TypeA); r.Rcode != dns.RcodeRefused {
				t.Errorf("name outside every zone: %s, want REFUSED", dns.RcodeToString[r.Rcode])
			}
			if r := ask(t, s.addr, proto, "nope.example.com.", dns.TypeA); r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 || r.Ns[0].Header().Ttl != 300 {
				t.Errorf("NXDOMAIN without the SOA at its negative TTL:\n%v", r)
			}
		})
	}
}

func TestDig(t *testing.T) {
	dig := requireTool(t, "dig")
	s := startServer(t, copyDir(t, "../zones"), "reload 0")
	host, port, _ := strings.Cut(s.addr, ":")
	out, err := exec.Command(dig, "@"+host, "-p", port, "example.com", "MX", "+norec").CombinedOutput()
	if err != nil {
		t.Fatalf("dig: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"status: NOERROR", "flags: qr aa", "ANSWER: 3",
		"example.com.\t\t3600\tIN\tMX\t10 mail1.example.com.", "backup.example.net.\t3600\tIN\tA\t203.0.113.25"} {
		if !strings.Contains(text, want) {
			t.Errorf("dig output lacks %q:\n%s", want, text)
		}
	}
	out, _ = exec.Command(dig, "@"+host, "-p", port, "parked.example", "MX", "+short").CombinedOutput()
	if strings.TrimSpace(string(out)) != "0 ." {
		t.Errorf("null MX: %q", out)
	}
	out, _ = exec.Command(dig, "@"+host, "-p", port, "example.com", "MX", "+tcp", "+short").CombinedOutput()
	if strings.Count(string(out), "\n") != 3 {
		t.Errorf("MX over TCP: %q", out)
	}
}

func TestReloadThroughTheBinary(t *testing.T) {
	dir := copyDir(t, answersDir)
	// Reloads come from file-system notifications; the hourly rescan never runs here.
	s := startServer(t, dir, "reload 1h")
	path := filepath.Join(dir, "example.org.zone")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	// A valid edit: same serial, new record. Content counts, not the serial.
	writeAtomic(t, path, string(orig)+"new A 192.0.2.200\n")
	waitFor(t, 10*time.Second, "the edit to be served", func() bool {
		return len(ask(t, s.addr, "udp", "new.example.org.", dns.TypeA).Answer) == 1
	})

	// A broken edit (MX at an IP literal): the last good version stays.
	refused := s.metric(t, `coredns_mxzone_reloads_total{result="refused",server="dns://127.0.0.1:`+strings.Split(s.addr, ":")[1]+`"}`)
	writeAtomic(t, path, string(orig)+"new A 192.0.2.200\n@ MX 30 192.0.2.1.\n")
	waitFor(t, 10*time.Second, "the broken edit to be refused", func() bool {
		return s.metric(t, `coredns_mxzone_reloads_total{result="refused",server="dns://127.0.0.1:`+strings.Split(s.addr, ":")[1]+`"}`) > refused
	})
	if r := ask(t, s.addr, "tcp", "example.org.", dns.TypeMX); len(r.Answer) != 2 || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("broken edit served, or last good version lost:\n%v", r)
	}
	if !strings.Contains(s.log.String(), "example.org.zone:10: error: example.org.: exchange 192.0.2.1.") {
		t.Errorf("log lacks the FILE:LINE finding:\n%s", s.log)
	}

	// Deleting the file removes the zone.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the zone to be removed", func() bool {
		return ask(t, s.addr, "udp", "example.org.", dns.TypeMX).Rcode == dns.RcodeRefused
	})
}

func TestLoadbalanceRotatesMX(t *testing.T) {
	s := startServer(t, copyDir(t, "../zones"), "reload 0", "loadbalance round_robin")
	orders := map[string]bool{}
	for range 30 {
		r := ask(t, s.addr, "udp", "example.com.", dns.TypeMX)
		var names []string
		for _, rr := range r.Answer {
			names = append(names, rr.(*dns.MX).Mx)
		}
		orders[strings.Join(names, ",")] = true
	}
	if len(orders) < 2 {
		t.Fatalf("MX order never changed over 30 queries: %v", orders)
	}
}

func TestBinaryFlags(t *testing.T) {
	out, err := exec.Command(binary, "-plugins").Output()
	if err != nil || !strings.Contains(string(out), "dns.mxzone") {
		t.Fatalf("-plugins: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "-version").Output()
	if err != nil || !strings.Contains(string(out), "CoreDNS-1.15") {
		t.Fatalf("-version: %v\n%s", err, out)
	}
}

func TestBadCorefileStopsStartup(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "Corefile")
	os.WriteFile(conf, []byte(".:0 {\n    mxzone "+t.TempDir()+" {\n        reload soon\n    }\n}\n"), 0o644)
	out, err := exec.Command(binary, "-conf", conf).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Corefile:3") || !strings.Contains(string(out), "not a duration") {
		t.Fatalf("err %v, output:\n%s", err, out)
	}
}

func TestTruncationOverUDP(t *testing.T) {
	dir := t.TempDir()
	var zone strings.Builder
	zone.WriteString("$TTL 3600\n@ SOA ns1 host 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n")
	for i := range 30 {
		zone.WriteString("big TXT \"" + strconv.Itoa(i) + strings.Repeat("x", 100) + "\"\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "big.example.zone"), []byte(zone.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, dir, "reload 0")
	req := new(dns.Msg)
	req.SetQuestion("big.big.example.", dns.TypeTXT) // no EDNS: 512 bytes
	udp, _, err := (&dns.Client{Net: "udp", Timeout: 3 * time.Second}).Exchange(req, s.addr)
	if err != nil {
		t.Fatal(err)
	}
	if !udp.Truncated {
		t.Fatalf("3 KB answer over 512-byte UDP without TC:\n%v", udp)
	}
	tcp := ask(t, s.addr, "tcp", "big.big.example.", dns.TypeTXT)
	if tcp.Truncated || len(tcp.Answer) != 30 {
		t.Fatalf("TCP: TC=%v, %d records, want all 30", tcp.Truncated, len(tcp.Answer))
	}
}

// TestShippedCorefile runs the Corefile README.md starts with, on ports and
// directories of the test's own: it serves the example zones and answers
// ANY queries the RFC 8482 way (one HINFO record), as the stock any plugin
// does.
func TestShippedCorefile(t *testing.T) {
	dig := requireTool(t, "dig")
	text, err := os.ReadFile("../Corefile")
	if err != nil {
		t.Fatal(err)
	}
	port, healthPort, readyPort, promPort, statusPort := freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
	conf := strings.NewReplacer(
		"127.0.0.1:8053", fmt.Sprintf("127.0.0.1:%d", statusPort),
		".:1053", fmt.Sprintf(".:%d", port),
		"127.0.0.1:8080", fmt.Sprintf("127.0.0.1:%d", healthPort),
		"127.0.0.1:8181", fmt.Sprintf("127.0.0.1:%d", readyPort),
		"127.0.0.1:9153", fmt.Sprintf("127.0.0.1:%d", promPort),
		"mxzone zones", "mxzone "+copyDir(t, "../zones"),
		"state .state", "state "+filepath.Join(t.TempDir(), "state"),
	).Replace(string(text))
	if !strings.Contains(conf, fmt.Sprintf(".:%d", port)) || !strings.Contains(conf, "state "+os.TempDir()) {
		t.Fatalf("the shipped Corefile changed shape; adjust this test:\n%s", conf)
	}
	path := filepath.Join(t.TempDir(), "Corefile")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	startProcess(t, "server", binary, "-conf", path)
	waitReady(t, readyPort)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitListening(t, addr)
	if mx := ask(t, addr, "udp", "example.com.", dns.TypeMX); mx.Rcode != dns.RcodeSuccess || len(mx.Answer) != 3 {
		t.Fatalf("MX:\n%v", mx)
	}
	// The example zones are signed: with DO, the MX RRset comes with its signature.
	if mx := ask(t, addr, "udp", "example.com.", dns.TypeMX, true); len(mx.Answer) != 4 || mx.Answer[3].Header().Rrtype != dns.TypeRRSIG {
		t.Fatalf("MX with DO:\n%v", mx)
	}
	out, err := exec.Command(dig, "@127.0.0.1", "-p", fmt.Sprint(port), "example.com", "ANY", "+norec").CombinedOutput()
	if err != nil {
		t.Fatalf("dig: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "ANSWER: 1") || !strings.Contains(string(out), `HINFO	"ANY obsoleted" "See RFC 8482"`) {
		t.Fatalf("ANY is not answered the RFC 8482 way:\n%s", out)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/zones", statusPort))
	if err != nil {
		t.Fatalf("status API: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"served": 5`) {
		t.Fatalf("status API: %d\n%s", resp.StatusCode, body)
	}
}

// TestLargeRRsetOverUDPAndTCP: an apex of 50,000 MX records (the RRset limit
// raised to allow it) is answered at once over UDP and TCP: with what fits
// and TC set, the work bounded by the size of a reply. Before, one such UDP
// query kept a core busy for minutes.
func TestLargeRRsetOverUDPAndTCP(t *testing.T) {
	dir := t.TempDir()
	var zone strings.Builder
	zone.WriteString("$TTL 3600\n@ SOA ns1 host 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n")
	for i := range 50000 {
		fmt.Fprintf(&zone, "@ MX %d h%d\nh%d A 192.0.2.2\n", i%65536, i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "big.example.zone"), []byte(zone.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, dir, "reload 0\n        max_rrset_records 50000")
	for _, proto := range []string{"udp", "tcp"} {
		req := new(dns.Msg)
		req.SetQuestion("big.example.", dns.TypeMX)
		req.SetEdns0(1232, false)
		// A timeout, not a speed target: 50,000 records take a while to pack.
		reply, _, err := (&dns.Client{Net: proto, Timeout: 30 * time.Second}).Exchange(req, s.addr)
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		reply.Compress = true // as it was sent
		size := reply.Len()
		if !reply.Truncated || reply.Rcode != dns.RcodeSuccess || len(reply.Answer) == 0 ||
			proto == "udp" && size > 1232 || size > dns.MaxMsgSize {
			t.Fatalf("%s: TC=%v rcode %s, %d records in %d bytes", proto, reply.Truncated,
				dns.RcodeToString[reply.Rcode], len(reply.Answer), size)
		}
	}
	if mx := ask(t, s.addr, "udp", "h7.big.example.", dns.TypeA); len(mx.Answer) != 1 {
		t.Fatalf("the zone's other names: %v", mx)
	}
}

// TestZoneNameConflict: a second file spelling a served zone's name another
// way ("Example.Com.zone") never takes the zone over, whatever the order in
// which the files appear, and not across a restart either.
func TestZoneNameConflict(t *testing.T) {
	soa := "$TTL 3600\n@ SOA ns1 host 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n"
	dir := t.TempDir()
	writeAtomic(t, filepath.Join(dir, "Example.Com.zone"), soa+"www A 203.0.113.66\n")
	writeAtomic(t, filepath.Join(dir, "example.com.zone"), soa+"www A 192.0.2.1\n")
	www := func(s *server) string {
		msg := ask(t, s.addr, "udp", "www.example.com.", dns.TypeA)
		if len(msg.Answer) != 1 {
			return fmt.Sprint(msg.Answer)
		}
		return msg.Answer[0].(*dns.A).A.String()
	}
	s := startServer(t, dir, "reload 1s")
	if got := www(s); got != "192.0.2.1" {
		t.Fatalf("www %s, want the canonical file's 192.0.2.1", got)
	}
	if !strings.Contains(s.log.String(), "Example.Com.zone:0: error: example.com.: names zone example.com.") {
		t.Fatalf("no finding for the second file in the log:\n%s", s.log.String())
	}
	// The impostor is edited: still nothing of it is served.
	writeAtomic(t, filepath.Join(dir, "Example.Com.zone"), soa+"www A 203.0.113.67\n")
	writeAtomic(t, filepath.Join(dir, "example.com.zone"), soa+"www A 192.0.2.2\n")
	waitFor(t, 10*time.Second, "the canonical file's edit", func() bool { return www(s) == "192.0.2.2" })
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
	if got := www(startServer(t, dir, "reload 1s")); got != "192.0.2.2" {
		t.Fatalf("after a restart: www %s", got)
	}
}

// TestIncludeOfAnotherTenantsFile: a customer's $INCLUDE of another
// tenant's zone file, or of a file the provider keeps beside the zones, is
// refused; the finding in the log names the file and never shows its text.
func TestIncludeOfAnotherTenantsFile(t *testing.T) {
	const secret = "mysql://root:Pa55w0rd@db.internal:3306/prod"
	soa := "$TTL 3600\n@ SOA ns1 host 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n"
	dir := t.TempDir()
	writeAtomic(t, filepath.Join(dir, "victim.example.zone"), soa+"www A 192.0.2.1\n")
	writeAtomic(t, filepath.Join(dir, "db.conf"), "www "+secret+"\n")
	writeAtomic(t, filepath.Join(dir, "thief.example.zone"), soa+"$INCLUDE victim.example.zone\n")
	writeAtomic(t, filepath.Join(dir, "snoop.example.zone"), soa+"$INCLUDE db.conf\n")
	s := startServer(t, dir, "reload 0")
	for _, zone := range []string{"thief.example.", "snoop.example."} {
		if msg := ask(t, s.addr, "udp", zone, dns.TypeSOA); msg.Rcode != dns.RcodeServerFailure {
			t.Errorf("%s served (%s) although its $INCLUDE is refused", zone, dns.RcodeToString[msg.Rcode])
		}
	}
	log := s.log.String()
	if !strings.Contains(log, `thief.example.zone:5: error: thief.example.: $INCLUDE "victim.example.zone" refused`) ||
		!strings.Contains(log, "db.conf:1: error: snoop.example.: syntax error") {
		t.Fatalf("the log does not name the refused files:\n%s", log)
	}
	if strings.Contains(log, "Pa55w0rd") {
		t.Fatalf("the log quotes the included file:\n%s", log)
	}
}

// TestDeletedZoneNotResurrected: a customer's zone deleted and made again
// at once with a broken file by a new owner serves nothing of the old
// owner's, neither now nor after a restart (issue 10: the state copy came
// back).
func TestDeletedZoneNotResurrected(t *testing.T) {
	soa := "$TTL 3600\n@ SOA ns1 host 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n"
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "shop.example.zone")
	writeAtomic(t, path, soa+"www A 192.0.2.1\n")
	block := "reload 1s\n        state " + state
	s := startServer(t, dir, block)
	waitFor(t, 10*time.Second, "the copy in the state directory", func() bool {
		_, err := os.Stat(filepath.Join(state, "shop.example.zone"))
		return err == nil
	})
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	writeAtomic(t, path, soa+"www CNAME elsewhere\nwww A 203.0.113.66\n") // CNAME beside data: refused
	waitFor(t, 10*time.Second, "the new owner's broken file refused", func() bool {
		return ask(t, s.addr, "udp", "www.shop.example.", dns.TypeA).Rcode == dns.RcodeServerFailure
	})
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
	s = startServer(t, dir, block)
	if msg := ask(t, s.addr, "udp", "www.shop.example.", dns.TypeA); msg.Rcode != dns.RcodeServerFailure {
		t.Fatalf("after a restart: %s %v: the deleted zone came back", dns.RcodeToString[msg.Rcode], msg.Answer)
	}
}

// TestNoPinningBetweenTenants: a tenant's MX naming another tenant's host
// does not stop that tenant from removing it (only protected zones, the
// provider's, are held back); the provider's protected zone is.
func TestNoPinningBetweenTenants(t *testing.T) {
	soa := "$TTL 3600\n@ SOA ns1 host 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n"
	dir := t.TempDir()
	writeAtomic(t, filepath.Join(dir, "example.net.zone"), soa+"mx1 A 192.0.2.25\n")
	writeAtomic(t, filepath.Join(dir, "example.com.zone"), soa+"mail1 A 192.0.2.26\n")
	writeAtomic(t, filepath.Join(dir, "shop.example.zone"), soa+"@ MX 10 mail1.example.com.\n@ MX 20 mx1.example.net.\n")
	s := startServer(t, dir, "reload 1s\n        protect example.net")
	// The provider's edit that would break shop.example. is refused.
	writeAtomic(t, filepath.Join(dir, "example.net.zone"), strings.Replace(soa, " 1 7200", " 2 7200", 1))
	waitFor(t, 10*time.Second, "the provider's edit refused", func() bool {
		return strings.Contains(s.log.String(), "edit refused: zone shop.example. depends on it")
	})
	if msg := ask(t, s.addr, "udp", "mx1.example.net.", dns.TypeA); len(msg.Answer) != 1 {
		t.Fatalf("the provider's mx1 went: %v", msg)
	}
	// The other tenant's edit is applied: nobody can pin its records.
	writeAtomic(t, filepath.Join(dir, "example.com.zone"), strings.Replace(soa, " 1 7200", " 2 7200", 1))
	waitFor(t, 10*time.Second, "the tenant's edit applied", func() bool {
		return ask(t, s.addr, "udp", "mail1.example.com.", dns.TypeA).Rcode == dns.RcodeNameError
	})
	if msg := ask(t, s.addr, "udp", "shop.example.", dns.TypeMX); msg.Rcode != dns.RcodeSuccess || len(msg.Answer) != 2 {
		t.Fatalf("shop.example. stopped serving: %v", msg)
	}
	waitFor(t, 5*time.Second, "shop.example. told", func() bool {
		return strings.Contains(s.log.String(), "exchange mail1.example.com. does not exist in zone example.com. (mx_target_address) (after another zone's change")
	})
}
