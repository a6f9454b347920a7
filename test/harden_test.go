package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The attacks of issue 21, each through the binary.

// zoneWithSPF is a small valid zone for origin whose SPF record is spf.
func zoneWithSPF(origin, spf string) string {
	return base0(origin) + fmt.Sprintf("@ MX 10 mail\nmail A 192.0.2.25\n@ TXT \"%s\"\n", spf)
}

// longLines returns the lines of text longer than n bytes, shortened.
func longLines(text string, n int) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	for sc.Scan() {
		if l := sc.Text(); len(l) > n {
			out = append(out, fmt.Sprintf("%d bytes: %.120s", len(l), l))
		}
	}
	return out
}

// reloadCount sums coredns_mxzone_reloads_total over its labels.
func (s *server) reloadCount(t *testing.T) float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.metrics + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	sum := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "coredns_mxzone_reloads_total{") {
			var v float64
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
			sum += v
		}
	}
	return sum
}

// getBody fetches url with an optional bearer token.
func getBody(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// A 20 MB SPF token is quoted in about 100 bytes wherever it shows: the
// log, the status API, the page; a 60 MB one in `coredns-mx check`.
func TestHugeTokenBoundedQuotes(t *testing.T) {
	dir := t.TempDir()
	writeAtomic(t, filepath.Join(dir, "huge.example.zone"), zoneWithSPF("huge.example.", "v=spf1 "+strings.Repeat("a", 20<<20)+" -all"))
	writeAtomic(t, filepath.Join(dir, "fine.example.zone"), zoneWithSPF("fine.example.", "v=spf1 mx -all"))
	statusAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s := startServer(t, dir, "        reload 1h\n        status "+statusAddr)
	if r := ask(t, s.addr, "udp", "fine.example.", dns.TypeMX); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("fine.example. MX: %s", dns.RcodeToString[r.Rcode])
	}
	waitFor(t, 10*time.Second, "the huge zone's finding in the log", func() bool { return strings.Contains(s.log.String(), "huge.example.zone:8") })
	if long := longLines(s.log.String(), 1024); len(long) > 0 {
		t.Errorf("log lines over 1 KB:\n%s", strings.Join(long, "\n"))
	}
	if !strings.Contains(s.log.String(), `"... (20971520 bytes)`) {
		t.Errorf("the cut quote is not marked with the token's length:\n%.3000s", s.log.String())
	}
	for _, path := range []string{"/zones", "/zones/huge.example.", "/", "/zone?name=huge.example."} {
		code, body := getBody(t, "http://"+statusAddr+path, "")
		if code != http.StatusOK || len(body) > 1<<20 || strings.Contains(string(body), strings.Repeat("a", 200)) {
			t.Errorf("GET %s: %d, %d bytes (want 200, under 1 MiB, no run of 200 bytes of the token)", path, code, len(body))
		}
	}

	// check: a 60 MB token, one line each under 1 KB.
	cdir := t.TempDir()
	writeAtomic(t, filepath.Join(cdir, "huge.example.zone"), zoneWithSPF("huge.example.", "v=spf1 "+strings.Repeat("b", 60<<20)+" -all"))
	out, _ := exec.Command(binary, "check", cdir).CombinedOutput()
	if long := longLines(string(out), 1024); len(long) > 0 || !strings.Contains(string(out), "huge.example.zone:8") {
		t.Errorf("check: lines over 1 KB %v, or no finding:\n%.2000s", long, out)
	}
}

// A refused edit of a protected zone with many dependents logs a few lines,
// never one per dependent; a write that changes nothing logs nothing.
func TestOneEventBoundedLogs(t *testing.T) {
	const dependents = 300
	dir := t.TempDir()
	provider := "$ORIGIN provider.example.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\nmx A 192.0.2.25\n"
	writeAtomic(t, filepath.Join(dir, "provider.example.zone"), provider)
	for i := range dependents {
		origin := fmt.Sprintf("customer%03d.example.", i)
		writeAtomic(t, filepath.Join(dir, origin+"zone"), fmt.Sprintf("$ORIGIN %s\n$TTL 300\n@ SOA ns1.provider.example. hostmaster 1 3600 600 86400 300\n"+
			"@ NS ns1.provider.example.\n@ MX 10 mx.provider.example.\n", origin))
	}
	s := startServer(t, dir, "        reload 1h\n        protect provider.example.")
	if r := ask(t, s.addr, "udp", "customer007.example.", dns.TypeMX); r.Rcode != dns.RcodeSuccess || len(r.Extra) < 2 {
		t.Fatalf("customer MX: %s, %d additional records", dns.RcodeToString[r.Rcode], len(r.Extra))
	}
	before := len(strings.Split(s.log.String(), "\n"))
	reloads := s.reloadCount(t)
	// The provider drops mx: every customer would lose its MX target.
	writeAtomic(t, filepath.Join(dir, "provider.example.zone"), strings.Replace(provider, "mx A", "mx2 A", 1))
	waitFor(t, 10*time.Second, "the refused edit", func() bool { return s.reloadCount(t) > reloads })
	if r := ask(t, s.addr, "udp", "mx.provider.example.", dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("the refused edit went live: %v", r)
	}
	lines := strings.Split(s.log.String(), "\n")[before-1:]
	if len(lines) > 8 || strings.Contains(strings.Join(lines, "\n"), "fine again") {
		t.Errorf("one refused edit logged %d lines (want a few, none 'fine again'):\n%s", len(lines), strings.Join(lines[:min(len(lines), 20)], "\n"))
	}
	// The same bytes again: a reload, and no line.
	before = len(strings.Split(s.log.String(), "\n"))
	reloads = s.reloadCount(t)
	writeAtomic(t, filepath.Join(dir, "provider.example.zone"), strings.Replace(provider, "mx A", "mx2 A", 1))
	waitFor(t, 10*time.Second, "the reload of the rewritten file", func() bool { return s.reloadCount(t) > reloads })
	if lines := strings.Split(s.log.String(), "\n")[before-1:]; len(lines) > 1 {
		t.Errorf("a write that changed nothing logged:\n%s", strings.Join(lines, "\n"))
	}
}

// Zone names from file names: nothing but letters, digits, hyphens and
// underscores; one-label names only when allowed.
func TestZoneNamesFromFileNames(t *testing.T) {
	dir := t.TempDir()
	hostile := `"><img src=x onerror=alert(1)>.zone`
	for _, name := range []string{hostile, "with space.example.zone", "example.zone", "ok_name-1.example.zone", "corp.zone"} {
		writeAtomic(t, filepath.Join(dir, name), "$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\n")
	}
	s := startServer(t, dir, "        reload 1h\n        allow_public_suffix corp.")
	log := s.log.String()
	for _, want := range []string{`"\"><img src=x onerror=alert(1)>.zone" does not name a zone`, `"with space.example.zone" does not name a zone`,
		"example.zone:0: error: example.: is a one-label name"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	for _, tc := range []struct {
		name  string
		rcode int
	}{{"ok_name-1.example.", dns.RcodeSuccess}, {"corp.", dns.RcodeSuccess}, {"example.", dns.RcodeRefused}} {
		if r := ask(t, s.addr, "udp", tc.name, dns.TypeSOA); r.Rcode != tc.rcode {
			t.Errorf("%s SOA: %s, want %s", tc.name, dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
		}
	}
}

// SERVFAIL and REFUSED say why in an RFC 8914 EDE, without the finding's
// text; QDCOUNT 0 and 2 are FORMERR.
func TestExtendedErrorsAndQuestionCount(t *testing.T) {
	dir := t.TempDir()
	writeAtomic(t, filepath.Join(dir, "good.example.zone"), zoneWithSPF("good.example.", "v=spf1 mx -all"))
	writeAtomic(t, filepath.Join(dir, "bad.example.zone"), zoneWithSPF("bad.example.", "v=spf1 secret-token-xyz -all"))
	s := startServer(t, dir, "        reload 1h")
	edeOf := func(r *dns.Msg) (uint16, string, bool) {
		if o := r.IsEdns0(); o != nil {
			for _, opt := range o.Option {
				if e, ok := opt.(*dns.EDNS0_EDE); ok {
					return e.InfoCode, e.ExtraText, true
				}
			}
		}
		return 0, "", false
	}
	for _, tc := range []struct {
		qname string
		rcode int
		ede   uint16
	}{
		{"www.bad.example.", dns.RcodeServerFailure, dns.ExtendedErrorCodeInvalidData},
		{"elsewhere.test.", dns.RcodeRefused, dns.ExtendedErrorCodeNotAuthoritative},
	} {
		for _, proto := range []string{"udp", "tcp"} {
			r := ask(t, s.addr, proto, tc.qname, dns.TypeA)
			code, text, ok := edeOf(r)
			if r.Rcode != tc.rcode || !ok || code != tc.ede || strings.Contains(text, "secret") {
				t.Errorf("%s over %s: %s, EDE %v %d %q; want %s with EDE %d", tc.qname, proto, dns.RcodeToString[r.Rcode], ok, code, text,
					dns.RcodeToString[tc.rcode], tc.ede)
			}
		}
	}
	// Without EDNS, no OPT in the reply (RFC 6891 section 7).
	req := new(dns.Msg)
	req.SetQuestion("www.bad.example.", dns.TypeA)
	if r, _, err := new(dns.Client).Exchange(req, s.addr); err != nil || r.Rcode != dns.RcodeServerFailure || r.IsEdns0() != nil {
		t.Errorf("no EDNS: %v %v", r, err)
	}
	// QDCOUNT 0 and 2 (RFC 9619: one question).
	for _, qs := range [][]dns.Question{nil, {{Name: "good.example.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, {Name: "good.example.", Qtype: dns.TypeMX, Qclass: dns.ClassINET}}} {
		req := &dns.Msg{Question: qs}
		req.Id = dns.Id()
		r, _, err := new(dns.Client).Exchange(req, s.addr)
		if err != nil || r.Rcode != dns.RcodeFormatError {
			t.Errorf("QDCOUNT %d: %v, %v; want FORMERR", len(qs), r, err)
		}
	}
}

// The status API: without a host it listens where the server block does,
// and says so; with a token, a request without it gets 401.
func TestStatusAPIBindAndToken(t *testing.T) {
	dir := t.TempDir()
	writeAtomic(t, filepath.Join(dir, "good.example.zone"), zoneWithSPF("good.example.", "v=spf1 mx -all"))
	tokenFile := filepath.Join(t.TempDir(), "token")
	const token = "0123456789abcdef0123456789abcdef"
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	s := startServer(t, dir, fmt.Sprintf("        reload 1h\n        status :%d {\n            token %s\n        }", port, tokenFile))
	want := fmt.Sprintf("status: API and page on http://127.0.0.1:%d/ (bearer token required)", port)
	if !strings.Contains(s.log.String(), want) {
		t.Errorf("log lacks %q", want)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if code, _ := getBody(t, base+"/zones", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
	if code, _ := getBody(t, base+"/zones", "wrong-token-wrong-token"); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", code)
	}
	if code, body := getBody(t, base+"/zones", token); code != http.StatusOK || !strings.Contains(string(body), `"counts"`) {
		t.Errorf("with the token: %d %s", code, body)
	}
	// Not on other addresses of the host: the loopback address only.
	if addrs := nonLoopbackAddrs(); len(addrs) > 0 {
		if resp, err := http.Get(fmt.Sprintf("http://%s:%d/zones", addrs[0], port)); err == nil {
			resp.Body.Close()
			t.Errorf("the API answers on %s", addrs[0])
		}
	}
}

// nonLoopbackAddrs lists this host's IPv4 addresses other than loopback.
func nonLoopbackAddrs() []string {
	var out []string
	ifaces, _ := net.InterfaceAddrs()
	for _, a := range ifaces {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			out = append(out, n.IP.String())
		}
	}
	return out
}

// A zone that could not be signed is served unsigned, signed again with
// back-off until it can be, and then served signed with a higher serial
// (RFC 1982), so that secondaries take the signed copy.
func TestFailedSigningRetried(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	writeAtomic(t, filepath.Join(dir, "good.example.zone"), zoneWithSPF("good.example.", "v=spf1 mx -all"))
	// The zone's key directory is a file: no key can be made for it.
	keys := filepath.Join(state, "keys", "good.example.")
	if err := os.MkdirAll(filepath.Dir(keys), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keys, []byte("in the way\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, dir, dnssecBlock(state, "nsec"))
	r := ask(t, s.addr, "udp", "good.example.", dns.TypeSOA, true)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("SOA while signing fails: %v", r)
	}
	unsigned := r.Answer[0].(*dns.SOA).Serial
	if !strings.Contains(s.log.String(), "signing is retried with back-off") {
		t.Errorf("the failure and its retry are not logged")
	}
	if err := os.Remove(keys); err != nil {
		t.Fatal(err)
	}
	var signed *dns.Msg
	waitFor(t, 30*time.Second, "the retried signing", func() bool {
		signed = ask(t, s.addr, "udp", "good.example.", dns.TypeSOA, true)
		return len(signed.Answer) == 2
	})
	if got := signed.Answer[0].(*dns.SOA).Serial; got != unsigned+1 {
		t.Errorf("signed serial %d after unsigned serial %d: want %d", got, unsigned, unsigned+1)
	}
}

// A zone with too many records to sign in the reload is signed aside:
// another zone's edit made after it goes live before it.
func TestLargeZoneSignedAside(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	writeAtomic(t, filepath.Join(dir, "small.example.zone"), zoneWithSPF("small.example.", "v=spf1 mx -all"))
	// 50,000 records in a file of 100 bytes: read in the reload (no file
	// is small enough to be read aside), signed aside by its record count.
	big := func(serial int) string {
		return fmt.Sprintf("$ORIGIN big.example.\n$TTL 300\n@ SOA ns1 hostmaster %d 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\n"+
			"$GENERATE 1-50000 h$ A 192.0.2.1\n", serial)
	}
	writeAtomic(t, filepath.Join(dir, "big.example.zone"), big(1))
	s := startServer(t, dir, strings.Replace(dnssecBlock(state, "nsec"), "reload 1h", "reload 1s", 1))
	serialOf := func(name string) uint32 {
		r := ask(t, s.addr, "udp", name, dns.TypeSOA, true)
		if len(r.Answer) == 0 {
			return 0
		}
		return r.Answer[0].(*dns.SOA).Serial
	}
	if serialOf("big.example.") != 1 {
		t.Fatal("big.example. not served")
	}
	writeAtomic(t, filepath.Join(dir, "big.example.zone"), big(2))
	// The small zone is edited after the big one: its edit goes live
	// while the big one is signed aside, never after it.
	writeAtomic(t, filepath.Join(dir, "small.example.zone"), strings.Replace(zoneWithSPF("small.example.", "v=spf1 mx -all"), "hostmaster 1", "hostmaster 2", 1))
	waitFor(t, 20*time.Second, "the small edit", func() bool { return serialOf("small.example.") == 2 })
	if serialOf("big.example.") == 2 {
		t.Errorf("the big zone was live before the small edit made after it: signed in the reload")
	}
	waitFor(t, 60*time.Second, "the big edit, signed aside", func() bool { return serialOf("big.example.") == 2 })
	if !strings.Contains(s.log.String(), "big.example.zone: zone big.example. is served, serial 2") {
		t.Errorf("the big edit is not logged as served")
	}
}

// Restarts: a protected zone whose file is missing at start keeps serving
// from its saved copy, says so once and in the status API, until `coredns-mx
// state forget` drops the copy; a zone whose new file is refused is served
// from its copy with a warning that names the copy's serial and age.
func TestRestartWithMissingAndRefusedFiles(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	provider := "$ORIGIN provider.example.\n$TTL 300\n@ SOA ns1 hostmaster 7 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\nmx A 192.0.2.25\n"
	writeAtomic(t, filepath.Join(dir, "provider.example.zone"), provider)
	customer := "$ORIGIN customer.example.\n$TTL 300\n@ SOA ns1.provider.example. hostmaster 3 3600 600 86400 300\n@ NS ns1.provider.example.\n@ MX 10 mx.provider.example.\n"
	writeAtomic(t, filepath.Join(dir, "customer.example.zone"), customer)
	statusAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	block := fmt.Sprintf("        reload 1h\n        state %s\n        protect provider.example.\n        status %s", state, statusAddr)
	stop := func(s *server) {
		s.cmd.Process.Signal(syscall.SIGTERM)
		s.cmd.Wait()
	}
	s := startServer(t, dir, block)
	waitFor(t, 10*time.Second, "the copies saved", func() bool { return strings.Contains(s.log.String(), "zone copies saved") })
	stop(s)

	// Down: the provider's file goes missing, the customer's is broken.
	if err := os.Remove(filepath.Join(dir, "provider.example.zone")); err != nil {
		t.Fatal(err)
	}
	writeAtomic(t, filepath.Join(dir, "customer.example.zone"), strings.Replace(customer, "MX 10 mx.provider.example.", "MX 10 192.0.2.1", 1))
	s = startServer(t, dir, block)
	if r := ask(t, s.addr, "udp", "mx.provider.example.", dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("the protected zone with its file missing is not served: %v", r)
	}
	if r := ask(t, s.addr, "udp", "customer.example.", dns.TypeMX); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 ||
		r.Answer[0].(*dns.MX).Mx != "mx.provider.example." {
		t.Fatalf("the customer's saved copy is not served: %v", r)
	}
	log := s.log.String()
	if n := strings.Count(log, "the file of protected zone provider.example. is missing at start"); n != 1 {
		t.Errorf("%d log lines for the missing file, want 1", n)
	}
	if !regexp.MustCompile(`\[WARNING\].*customer\.example\.zone: file refused; zone customer\.example\. is served from its saved last good copy .*, serial 3, saved \d+s ago`).MatchString(log) {
		t.Errorf("no warning naming the copy's serial and age:\n%s", log)
	}
	code, body := getBody(t, "http://"+statusAddr+"/zones/provider.example.", "")
	if code != http.StatusOK || !strings.Contains(string(body), `"file_missing": true`) || !strings.Contains(string(body), `"state": "from_state"`) {
		t.Errorf("status of the missing zone: %d %s", code, body)
	}
	stop(s)

	// The operator forgets the provider's copy on purpose: it is gone.
	out, err := exec.Command(binary, "state", "forget", "--conf", s.conf, "provider.example.").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "provider.example.: saved copy removed") {
		t.Fatalf("state forget: %v\n%s", err, out)
	}
	s = startServer(t, dir, block)
	if r := ask(t, s.addr, "udp", "mx.provider.example.", dns.TypeA); r.Rcode != dns.RcodeRefused {
		t.Errorf("the forgotten zone still answers: %v", r)
	}
}

// A zone served unsigned and then signed (dnssec turned on over a state
// directory that holds its copy) is served with a higher serial, so that
// secondaries take the signed version (RFC 1982).
func TestDNSSECTurnedOnRaisesSerial(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	writeAtomic(t, filepath.Join(dir, "good.example.zone"), zoneWithSPF("good.example.", "v=spf1 mx -all"))
	s := startServer(t, dir, "        reload 1h\n        state "+state)
	waitFor(t, 10*time.Second, "the copies saved", func() bool { return strings.Contains(s.log.String(), "zone copies saved") })
	unsigned := ask(t, s.addr, "udp", "good.example.", dns.TypeSOA).Answer[0].(*dns.SOA).Serial
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
	s = startServer(t, dir, dnssecBlock(state, "nsec"))
	r := ask(t, s.addr, "udp", "good.example.", dns.TypeSOA, true)
	if len(r.Answer) != 2 {
		t.Fatalf("not signed: %v", r)
	}
	if got := r.Answer[0].(*dns.SOA).Serial; got != unsigned+1 {
		t.Errorf("signed serial %d after unsigned serial %d: want %d", got, unsigned, unsigned+1)
	}
}
