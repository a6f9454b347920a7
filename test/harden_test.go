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
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The attacks of issue 21, each through the binary.

// zoneWithSPF is a small valid zone for origin whose SPF record is spf.
func zoneWithSPF(origin, spf string) string {
	return fmt.Sprintf("$ORIGIN %s\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\n"+
		"@ MX 10 mail\nmail A 192.0.2.25\n@ TXT \"%s\"\n", origin, spf)
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
