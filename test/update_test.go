package test

import (
	"encoding/json"
	"fmt"
	"io"
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

// tsigKey is one key as tsig-keygen printed it.
type tsigKey struct {
	name, alg, secret string
	conf              string // the key statement, as printed
}

// makeKey runs BIND's tsig-keygen, as a provider does.
func makeKey(t *testing.T, alg, name string) tsigKey {
	t.Helper()
	keygen := requireTool(t, "tsig-keygen")
	out, err := exec.Command(keygen, "-a", alg, name).Output()
	if err != nil {
		t.Fatalf("tsig-keygen: %v", err)
	}
	m := regexp.MustCompile(`secret "([^"]+)"`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("tsig-keygen printed no secret:\n%s", out)
	}
	return tsigKey{name: name, alg: alg, secret: string(m[1]), conf: string(out)}
}

// y is the key in nsupdate's -y form.
func (k tsigKey) y() string { return k.alg + ":" + k.name + ":" + k.secret }

// updateSetup is a zone directory (the shipped zones), a policy directory
// and a state directory for a server that takes updates.
type updateSetup struct {
	zones, policy, state  string
	xfrTo                 string // the transfer plugin's to: where NOTIFY goes
	acme, panel, provider tsigKey
}

func newUpdateSetup(t *testing.T) *updateSetup {
	u := &updateSetup{zones: copyDir(t, "../zones"), policy: t.TempDir(), state: t.TempDir()}
	u.acme = makeKey(t, "hmac-sha256", "acme.example.com")
	u.panel = makeKey(t, "hmac-sha512", "panel.example.com")
	u.provider = makeKey(t, "hmac-sha384", "provider.example.net")
	u.writePolicy(t, "example.com", u.acme.conf+u.panel.conf+
		"grant acme.example.com subdomain _acme-challenge.example.com. TXT;\n"+
		"grant panel.example.com zonesub ANY;\n")
	u.writePolicy(t, "example.net", u.provider.conf+"grant provider.example.net zonesub ANY;\n")
	return u
}

func (u *updateSetup) writePolicy(t *testing.T, zone, text string) {
	t.Helper()
	writeAtomic(t, filepath.Join(u.policy, zone+".conf"), text)
}

func (u *updateSetup) start(t *testing.T, mxLines ...string) *server {
	block := "        reload 1s\n        state " + u.state + "\n        update " + u.policy
	for _, l := range mxLines {
		block += "\n        " + l
	}
	to := u.xfrTo
	if to == "" {
		to = "127.0.0.1"
	}
	return startServer(t, u.zones, block, "transfer {\n        to "+to+"\n    }")
}

// nsupdate runs BIND's nsupdate with args against s and returns its output;
// ok is its exit status 0.
func nsupdate(t *testing.T, s *server, script string, args ...string) (string, bool) {
	t.Helper()
	bin := requireTool(t, "nsupdate")
	host, port, _ := strings.Cut(s.addr, ":")
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(fmt.Sprintf("server %s %s\n%s\nsend\n", host, port, script))
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// txt returns the TXT strings at name, or the rcode's name.
func answers(t *testing.T, s *server, name string, qtype uint16) string {
	t.Helper()
	resp := ask(t, s.addr, "udp", name, qtype)
	if resp.Rcode != dns.RcodeSuccess {
		return dns.RcodeToString[resp.Rcode]
	}
	var out []string
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype == qtype {
			out = append(out, strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
	}
	return strings.Join(out, "|")
}

func serialOf(t *testing.T, s *server, zone string) uint32 {
	t.Helper()
	serial, rcode := soaSerial(s.addr, zone)
	if serial < 0 {
		t.Fatalf("SOA of %s: rcode %d", zone, rcode)
	}
	return uint32(serial)
}

// TestUpdateNsupdate drives the server with BIND's nsupdate as ACME clients
// and control panels do: signed additions and deletions (-y and -k), each
// prerequisite failing with its rcode, a key reaching past its grant, an
// unsigned update, a wrong secret, an unknown key, a zone not served.
func TestUpdateNsupdate(t *testing.T) {
	u := newUpdateSetup(t)
	statusAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s := u.start(t, "status "+statusAddr)
	serial := serialOf(t, s, "example.com.")

	t.Run("add with -y", func(t *testing.T) {
		out, ok := nsupdate(t, s, "zone example.com\nupdate add _acme-challenge.example.com. 60 IN TXT \"token-1\"", "-y", u.acme.y())
		if !ok {
			t.Fatalf("nsupdate: %s", out)
		}
		// Answered after the ack: nothing to wait for.
		if got := answers(t, s, "_acme-challenge.example.com.", dns.TypeTXT); got != `"token-1"` {
			t.Fatalf("TXT after the update: %s", got)
		}
		if got := serialOf(t, s, "example.com."); got != serial+1 {
			t.Fatalf("serial %d after one update, want %d", got, serial+1)
		}
	})
	t.Run("add with -k", func(t *testing.T) {
		keyFile := filepath.Join(t.TempDir(), "panel.key")
		os.WriteFile(keyFile, []byte(u.panel.conf), 0o600)
		out, ok := nsupdate(t, s, "zone example.com\nupdate add host.example.com. 300 IN A 192.0.2.55\nupdate add host.example.com. 300 IN AAAA 2001:db8::55", "-k", keyFile)
		if !ok {
			t.Fatalf("nsupdate -k: %s", out)
		}
		if got := answers(t, s, "host.example.com.", dns.TypeA); got != "192.0.2.55" {
			t.Fatalf("A after the update: %s", got)
		}
	})
	t.Run("delete", func(t *testing.T) {
		before := serialOf(t, s, "example.com.")
		out, ok := nsupdate(t, s, "zone example.com\nupdate delete _acme-challenge.example.com. TXT", "-y", u.acme.y())
		if !ok {
			t.Fatalf("nsupdate: %s", out)
		}
		if got := answers(t, s, "_acme-challenge.example.com.", dns.TypeTXT); got != "NXDOMAIN" {
			t.Fatalf("TXT after the deletion: %s", got)
		}
		if got := serialOf(t, s, "example.com."); got != before+1 {
			t.Fatalf("serial %d after the deletion, want %d", got, before+1)
		}
	})
	for _, c := range []struct{ name, prereq, want string }{
		{"name in use", "prereq yxdomain nothere.example.com.", "NXDOMAIN"},
		{"name not in use", "prereq nxdomain www.example.com.", "YXDOMAIN"},
		{"RRset exists", "prereq yxrrset www.example.com. TXT", "NXRRSET"},
		{"RRset does not exist", "prereq nxrrset www.example.com. A", "YXRRSET"},
		{"RRset exists with this value", "prereq yxrrset www.example.com. A 192.0.2.1", "NXRRSET"},
	} {
		t.Run("prerequisite "+c.name+" fails", func(t *testing.T) {
			before := serialOf(t, s, "example.com.")
			out, ok := nsupdate(t, s, "zone example.com\n"+c.prereq+"\nupdate add pre.example.com. 60 IN A 192.0.2.9", "-y", u.panel.y())
			if ok || !strings.Contains(out, "update failed: "+c.want) {
				t.Fatalf("want update failed: %s, got (ok %v):\n%s", c.want, ok, out)
			}
			if got := answers(t, s, "pre.example.com.", dns.TypeA); got != "NXDOMAIN" {
				t.Fatalf("a refused update changed the zone: %s", got)
			}
			if got := serialOf(t, s, "example.com."); got != before {
				t.Fatalf("serial went from %d to %d on a refused update", before, got)
			}
		})
	}
	t.Run("prerequisite holds", func(t *testing.T) {
		out, ok := nsupdate(t, s, "zone example.com\nprereq yxrrset www.example.com. A 192.0.2.80\nupdate add pre.example.com. 60 IN A 192.0.2.9", "-y", u.panel.y())
		if !ok || answers(t, s, "pre.example.com.", dns.TypeA) != "192.0.2.9" {
			t.Fatalf("nsupdate: %s", out)
		}
	})
	for _, c := range []struct {
		name, script string
		args         []string
		want         string
	}{
		{"beyond the grant", "zone example.com\nupdate add www.example.com. 60 IN TXT \"x\"", []string{"-y", u.acme.y()}, "update failed: REFUSED"},
		{"the apex NS without a grant naming it", "zone example.com\nupdate add example.com. 60 IN NS ns9.example.net.", []string{"-y", u.panel.y()}, "update failed: REFUSED"},
		{"DNSSEC records", "zone example.com\nupdate add example.com. 60 IN DNSKEY 257 3 13 dGVzdA==", []string{"-y", u.panel.y()}, "update failed: REFUSED"},
		{"another zone's key", "zone example.com\nupdate add x.example.com. 60 IN A 192.0.2.1", []string{"-y", u.provider.y()}, "update failed: REFUSED"},
		{"unsigned", "zone example.com\nupdate add x.example.com. 60 IN A 192.0.2.1", nil, "update failed: REFUSED"},
		{"wrong secret", "zone example.com\nupdate add x.example.com. 60 IN A 192.0.2.1", []string{"-y", "hmac-sha256:acme.example.com:" + u.provider.secret}, "NOTAUTH(BADSIG)"},
		{"unknown key", "zone example.com\nupdate add x.example.com. 60 IN A 192.0.2.1", []string{"-y", "hmac-sha256:stranger.example:" + u.acme.secret}, "NOTAUTH(BADKEY)"},
		{"a zone not served", "zone example.invalid\nupdate add x.example.invalid. 60 IN A 192.0.2.1", []string{"-y", u.panel.y()}, "update failed: NOTAUTH"},
		{"outside the zone", "zone example.com\nupdate add x.example.org. 60 IN A 192.0.2.1", []string{"-y", u.panel.y()}, "update failed: NOTZONE"},
	} {
		t.Run("refused: "+c.name, func(t *testing.T) {
			out, ok := nsupdate(t, s, c.script, c.args...)
			if ok || !strings.Contains(out, c.want) {
				t.Fatalf("want %q, got (ok %v):\n%s", c.want, ok, out)
			}
			if got := answers(t, s, "x.example.com.", dns.TypeA); got != "NXDOMAIN" {
				t.Fatalf("a refused update changed the zone: %s", got)
			}
		})
	}
	if got := s.metric(t, `coredns_mxzone_updates_total{result="applied",server="dns://`+s.addr+`"}`); got < 4 {
		t.Errorf("updates_total applied = %v, want at least 4", got)
	}
	if strings.Contains(s.log.String(), u.acme.secret) || strings.Contains(s.log.String(), u.panel.secret) {
		t.Error("a secret is in the log")
	}
	t.Run("status API", func(t *testing.T) {
		resp, err := http.Get("http://" + statusAddr + "/zones/example.com.")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var d struct {
			ServedSerial uint32 `json:"served_serial"`
			Dynamic      *struct {
				Added, Deleted int
				JournalBytes   int64  `json:"journal_bytes"`
				LastSerial     uint32 `json:"journal_last_serial"`
				LastKey        string `json:"last_update_key"`
				Updates        int    `json:"updates_since_start"`
			} `json:"dynamic"`
		}
		if err := json.Unmarshal(body, &d); err != nil || d.Dynamic == nil {
			t.Fatalf("%v: %s", err, body)
		}
		if dy := d.Dynamic; dy.Added != 3 || dy.LastKey != "panel.example.com." || dy.LastSerial != d.ServedSerial || dy.Updates != 4 || dy.JournalBytes == 0 {
			t.Errorf("dynamic: %+v (served serial %d)", *dy, d.ServedSerial)
		}
		if strings.Contains(string(body), u.panel.secret) || strings.Contains(string(body), u.acme.secret) {
			t.Error("a secret is in the status API")
		}
		page, err := http.Get("http://" + statusAddr + "/zone?name=example.com.")
		if err != nil {
			t.Fatal(err)
		}
		defer page.Body.Close()
		html, _ := io.ReadAll(page.Body)
		if !strings.Contains(string(html), "3 records added and 0 deleted by UPDATE; 4 updates since the start, the last by key panel.example.com.") {
			t.Errorf("the zone page does not show the dynamic changes:\n%s", html)
		}
	})
	t.Run("a control panel takes the dynamic changes over", func(t *testing.T) {
		drop, err := exec.Command(binary, "dynamic", "--conf", s.conf, "--drop", "example.com").Output()
		if err != nil || !strings.Contains(string(drop), "update delete host.example.com.\t300\tIN\tA\t192.0.2.55\n") {
			t.Fatalf("dynamic --drop: %v\n%s", err, drop)
		}
		served, err := exec.Command(binary, "dynamic", "--conf", s.conf, "example.com").Output()
		if err != nil || !strings.Contains(string(served), "host.example.com.\t300\tIN\tA\t192.0.2.55\n") {
			t.Fatalf("dynamic: %v\n%s", err, served)
		}
		writeAtomic(t, filepath.Join(u.zones, "example.com.zone"), string(served))
		waitFor(t, 10*time.Second, "the delta to empty", func() bool {
			resp, err := http.Get("http://" + statusAddr + "/zones/example.com.")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return strings.Contains(string(body), `"added": 0`) && strings.Contains(string(body), `"deleted": 0`)
		})
		if got := answers(t, s, "host.example.com.", dns.TypeA); got != "192.0.2.55" {
			t.Fatalf("after the take-over: %s", got)
		}
	})
}

// signedUpdate sends one update with miekg/dns, TSIG-signed and with EDNS,
// and returns the reply (to read its Extended DNS Error).
func signedUpdate(t *testing.T, s *server, k tsigKey, build func(m *dns.Msg)) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetUpdate("example.com.")
	if k.name == "provider.example.net" {
		m.SetUpdate("example.net.")
	}
	build(m)
	m.SetEdns0(1232, false)
	name := dns.Fqdn(k.name)
	alg := map[string]string{"hmac-sha256": dns.HmacSHA256, "hmac-sha384": dns.HmacSHA384, "hmac-sha512": dns.HmacSHA512}[k.alg]
	m.SetTsig(name, alg, 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second, TsigSecret: map[string]string{name: k.secret}}
	resp, _, err := c.Exchange(m, s.addr)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	return resp
}

func edeText(m *dns.Msg) string {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				return e.ExtraText
			}
		}
	}
	return ""
}

func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// TestUpdateHeldToTheRules: an update goes through the checks a file edit
// does, local and across zones, and one that fails them is refused with an
// Extended DNS Error naming the rule and the record, one log line, and the
// zone as it was.
func TestUpdateHeldToTheRules(t *testing.T) {
	u := newUpdateSetup(t)
	s := u.start(t)
	serial := serialOf(t, s, "example.com.")
	cases := []struct {
		name, rule string
		key        tsigKey
		rrs        []string
	}{
		{"MX at a CNAME", "mx_target_cname", u.panel, []string{"alias.example.com. 300 IN CNAME www.example.com.", "example.com. 3600 IN MX 5 alias.example.com."}},
		{"MX at a name without an address", "mx_target_address", u.panel, []string{"example.com. 3600 IN MX 5 nowhere.example.com."}},
		{"MX at an IP literal", "mx_target_ip", u.panel, []string{"example.com. 3600 IN MX 5 192.0.2.1."}},
		{"null MX beside others", "null_mx", u.panel, []string{"example.com. 3600 IN MX 0 ."}},
		{"a second SPF record", "spf", u.panel, []string{`example.com. 3600 IN TXT "v=spf1 -all"`}},
		{"SPF needing 11 look-ups", "spf_lookups", u.panel, []string{
			`spf.example.com. 3600 IN TXT "v=spf1 a:a1.example.com a:a2.example.com a:a3.example.com a:a4.example.com a:a5.example.com a:a6.example.com a:a7.example.com a:a8.example.com a:a9.example.com a:a10.example.com a:a11.example.com -all"`}},
		{"a DKIM key cut short", "dkim", u.panel, []string{`sel._domainkey.example.com. 3600 IN TXT "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC"`}},
		{"another zone's MX left without an address", "mx_target_address", u.provider, nil}, // example.com's MX 20 backup.example.net.
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := s.log.String()
			resp := signedUpdate(t, s, c.key, func(m *dns.Msg) {
				if c.rrs == nil {
					// The provider deletes the address of a host a customer zone sends mail to.
					m.RemoveName([]dns.RR{mustRR(t, "backup.example.net. 0 IN A 0.0.0.0")})
					return
				}
				var rrs []dns.RR
				for _, r := range c.rrs {
					rrs = append(rrs, mustRR(t, r))
				}
				m.Insert(rrs)
			})
			if resp.Rcode != dns.RcodeRefused {
				t.Fatalf("rcode %s, want REFUSED", dns.RcodeToString[resp.Rcode])
			}
			if resp.IsTsig() == nil {
				t.Error("the answer to a signed update is not signed")
			}
			text := edeText(resp)
			if !strings.HasPrefix(text, c.rule+": ") || len(text) > 200 {
				t.Errorf("Extended DNS Error text %q: want it to start with the rule %s, at most 200 bytes", text, c.rule)
			}
			if c.rrs == nil && !strings.Contains(text, "example.com.") {
				t.Errorf("Extended DNS Error text %q does not name the zone that depends on the record", text)
			}
			// The log is read from a pipe: wait for the line, then count.
			waitFor(t, 5*time.Second, "the log line", func() bool { return strings.Contains(strings.TrimPrefix(s.log.String(), before), "REFUSED") })
			added := strings.TrimPrefix(s.log.String(), before)
			if n := strings.Count(added, "\n"); n != 1 || !strings.Contains(added, c.rule) {
				t.Errorf("want one log line naming %s, got %d:\n%s", c.rule, n, added)
			}
		})
	}
	if got := serialOf(t, s, "example.com."); got != serial {
		t.Errorf("serial %d after refused updates, was %d", got, serial)
	}
	if got := answers(t, s, "example.com.", dns.TypeMX); strings.Contains(got, " 5 ") {
		t.Errorf("MX after refused updates: %s", got)
	}
	if got := answers(t, s, "backup.example.net.", dns.TypeA); got != "203.0.113.25" {
		t.Errorf("backup.example.net A after the refused deletion: %s", got)
	}
	t.Run("BADTIME", func(t *testing.T) {
		// RFC 8945 section 5.2.3: a request signed outside the fudge gets
		// NOTAUTH with TSIG error BADTIME, signed, the server's time in
		// Other Data.
		m := new(dns.Msg)
		m.SetUpdate("example.com.")
		m.Insert([]dns.RR{mustRR(t, "late.example.com. 60 IN A 192.0.2.1")})
		name := dns.Fqdn(u.panel.name)
		m.SetTsig(name, dns.HmacSHA512, 300, time.Now().Add(-time.Hour).Unix())
		c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second, TsigSecret: map[string]string{name: u.panel.secret}}
		resp, _, err := c.Exchange(m, s.addr)
		if resp == nil {
			t.Fatalf("no answer: %v", err)
		}
		tsig := resp.IsTsig()
		if resp.Rcode != dns.RcodeNotAuth || tsig == nil || tsig.Error != dns.RcodeBadTime || tsig.MAC == "" || tsig.OtherLen != 6 {
			t.Fatalf("rcode %s, TSIG %v (client: %v)", dns.RcodeToString[resp.Rcode], tsig, err)
		}
		if got := answers(t, s, "late.example.com.", dns.TypeA); got != "NXDOMAIN" {
			t.Fatalf("a late update was applied: %s", got)
		}
	})
	t.Run("a 65,535-record update", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetUpdate("example.com.")
		for i := range 65535 {
			m.Ns = append(m.Ns, &dns.A{Hdr: dns.RR_Header{Name: "many.example.com.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A: []byte{10, byte(i >> 16), byte(i >> 8), byte(i)}})
		}
		name := dns.Fqdn(u.panel.name)
		m.SetTsig(name, dns.HmacSHA512, 300, time.Now().Unix())
		c := &dns.Client{Net: "tcp", Timeout: 10 * time.Second, TsigSecret: map[string]string{name: u.panel.secret}}
		resp, _, err := c.Exchange(m, s.addr)
		if err == nil && resp.Rcode == dns.RcodeSuccess {
			t.Fatal("a 65,535-record update was applied")
		}
		if got := answers(t, s, "many.example.com.", dns.TypeA); got != "NXDOMAIN" {
			t.Fatalf("many.example.com after the refused update: %s", got)
		}
	})
}

// TestUpdateDurableAndMerged: every acknowledged update is served after a
// kill -9; a torn journal tail is dropped with one log line; a file edit
// (with a lower serial) is merged with the updates; deleting the file
// deletes the zone, its dynamic records and its journal.
func TestUpdateDurableAndMerged(t *testing.T) {
	u := newUpdateSetup(t)
	s := u.start(t)
	for i := range 20 {
		out, ok := nsupdate(t, s, fmt.Sprintf("zone example.com\nupdate add h%d.example.com. 300 IN A 192.0.2.%d", i, 100+i), "-y", u.panel.y())
		if !ok {
			t.Fatalf("update %d: %s", i, out)
		}
	}
	serial := serialOf(t, s, "example.com.")
	s.cmd.Process.Kill()
	s.cmd.Wait()

	s = u.start(t)
	for i := range 20 {
		if got := answers(t, s, fmt.Sprintf("h%d.example.com.", i), dns.TypeA); got != fmt.Sprintf("192.0.2.%d", 100+i) {
			t.Fatalf("after kill -9: h%d: %s", i, got)
		}
	}
	if got := serialOf(t, s, "example.com."); got != serial {
		t.Fatalf("serial %d after the restart, was %d: the same content keeps its serial", got, serial)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()

	// A torn tail, as a crash in the middle of a write leaves it.
	jnl := filepath.Join(u.state, "journal", "example.com.jnl")
	f, err := os.OpenFile(jnl, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 1, 0, 0xde, 0xad, 0xbe, 0xef, 3, 1, 2})
	f.Close()
	s = u.start(t)
	if n := strings.Count(s.log.String(), "torn or damaged tail dropped"); n != 1 {
		t.Fatalf("want one log line for the torn tail, got %d:\n%s", n, s.log)
	}
	if got := answers(t, s, "h19.example.com.", dns.TypeA); got != "192.0.2.119" {
		t.Fatalf("after the torn tail: %s", got)
	}
	if st, err := os.Stat(jnl); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("journal file %v: want mode 0600", st.Mode())
	}

	// A file edit with a lower serial: merged, the served serial goes up.
	zoneFile := filepath.Join(u.zones, "example.com.zone")
	text, _ := os.ReadFile(zoneFile)
	edited := strings.Replace(string(text), "2026113001", "2020010101", 1) + "fromfile IN A 192.0.2.77\n"
	served := serialOf(t, s, "example.com.")
	writeAtomic(t, zoneFile, edited)
	waitFor(t, 10*time.Second, "the file edit", func() bool { return answers(t, s, "fromfile.example.com.", dns.TypeA) == "192.0.2.77" })
	if got := answers(t, s, "h3.example.com.", dns.TypeA); got != "192.0.2.103" {
		t.Fatalf("an update's record after a file edit: %s", got)
	}
	if got := serialOf(t, s, "example.com."); got != served+1 {
		t.Fatalf("serial %d after a file edit with a lower serial, want %d", got, served+1)
	}

	// Deleted means deleted: the dynamic records and the journal go too.
	os.Remove(zoneFile)
	waitFor(t, 10*time.Second, "the deletion", func() bool {
		return ask(t, s.addr, "udp", "example.com.", dns.TypeSOA).Rcode == dns.RcodeRefused
	})
	if _, err := os.Stat(jnl); !os.IsNotExist(err) {
		t.Fatalf("journal after the zone's deletion: %v", err)
	}
	writeAtomic(t, zoneFile, string(text))
	waitFor(t, 10*time.Second, "the zone made again", func() bool { return answers(t, s, "www.example.com.", dns.TypeA) == "192.0.2.80" })
	if got := answers(t, s, "h3.example.com.", dns.TypeA); got != "NXDOMAIN" {
		t.Fatalf("a zone made again serves the deleted zone's dynamic record: %s", got)
	}
}

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

// TestUpdateKeyChange: a key added to a policy file works within seconds,
// the server restarted in-process with it; a key removed is refused at
// once; the zones keep serving throughout.
func TestUpdateKeyChange(t *testing.T) {
	u := newUpdateSetup(t)
	s := u.start(t)
	fresh := makeKey(t, "hmac-sha256", "cert-manager.example.com")
	u.writePolicy(t, "example.com", u.panel.conf+fresh.conf+
		"grant cert-manager.example.com name _acme-challenge.example.com. TXT;\n"+
		"grant panel.example.com zonesub ANY;\n")
	waitFor(t, 20*time.Second, "the new key to work", func() bool {
		_, ok := nsupdate(t, s, "zone example.com\nupdate add _acme-challenge.example.com. 60 IN TXT \"cm\"", "-y", fresh.y())
		if answers(t, s, "www.example.com.", dns.TypeA) != "192.0.2.80" {
			t.Fatal("the zones stopped answering during the key change")
		}
		return ok
	})
	if out, ok := nsupdate(t, s, "zone example.com\nupdate add _acme-challenge.example.com. 60 IN TXT \"old\"", "-y", u.acme.y()); ok || !strings.Contains(out, "REFUSED") && !strings.Contains(out, "BADKEY") {
		t.Fatalf("the removed key still updates:\n%s", out)
	}
	if got := answers(t, s, "_acme-challenge.example.com.", dns.TypeTXT); got != `"cm"` {
		t.Fatalf("TXT: %s", got)
	}
	if !strings.Contains(s.log.String(), "restarting the server instance") {
		t.Errorf("no in-process restart logged:\n%s", s.log)
	}
	t.Log(s.log)
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

// TestUpdateKillDuringUpdates kills the server with SIGKILL while updates
// stream in, three times: after each restart every acknowledged update is
// served, and no update is half there (each adds two records in one
// message: both or neither).
func TestUpdateKillDuringUpdates(t *testing.T) {
	u := newUpdateSetup(t)
	acked := map[int]bool{}
	sent := 0
	for round := range 3 {
		s := u.start(t)
		check := func(when string) {
			for i := range sent {
				a := answers(t, s, fmt.Sprintf("k%da.example.com.", i), dns.TypeA) != "NXDOMAIN"
				b := answers(t, s, fmt.Sprintf("k%db.example.com.", i), dns.TypeTXT) != "NXDOMAIN"
				if a != b {
					t.Fatalf("%s: update %d is half applied (A %v, TXT %v)", when, i, a, b)
				}
				if acked[i] && !a {
					t.Fatalf("%s: acknowledged update %d is not served", when, i)
				}
			}
		}
		check(fmt.Sprintf("start %d", round))
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			name := dns.Fqdn(u.panel.name)
			c := &dns.Client{Net: "udp", Timeout: time.Second, TsigSecret: map[string]string{name: u.panel.secret}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := sent
				sent++
				m := new(dns.Msg)
				m.SetUpdate("example.com.")
				m.Insert([]dns.RR{mustRR(t, fmt.Sprintf("k%da.example.com. 60 IN A 192.0.2.1", i)), mustRR(t, fmt.Sprintf("k%db.example.com. 60 IN TXT \"x\"", i))})
				m.SetTsig(name, dns.HmacSHA512, 300, time.Now().Unix())
				if resp, _, err := c.Exchange(m, s.addr); err == nil && resp.Rcode == dns.RcodeSuccess {
					acked[i] = true
				}
			}
		}()
		waitFor(t, 20*time.Second, "some updates acknowledged", func() bool {
			select {
			case <-done:
				return true
			default:
			}
			return s.metric(t, `coredns_mxzone_updates_total{result="applied",server="dns://`+s.addr+`"}`) >= 10
		})
		s.cmd.Process.Kill()
		s.cmd.Wait()
		close(stop)
		<-done
	}
	s := u.start(t)
	for i := range sent {
		a := answers(t, s, fmt.Sprintf("k%da.example.com.", i), dns.TypeA) != "NXDOMAIN"
		b := answers(t, s, fmt.Sprintf("k%db.example.com.", i), dns.TypeTXT) != "NXDOMAIN"
		if a != b || acked[i] && !a {
			t.Fatalf("after the last kill: update %d: A %v, TXT %v, acknowledged %v", i, a, b, acked[i])
		}
	}
	if len(acked) < 30 {
		t.Fatalf("only %d updates acknowledged in three rounds", len(acked))
	}
}

// TestUpdateLargeZoneHoldsUpNoOne: the update of a large signed zone is
// drafted and signed outside the reload lock, so updates of another zone
// go on while it is applied (an ordering, not a timing).
func TestUpdateLargeZoneHoldsUpNoOne(t *testing.T) {
	u := newUpdateSetup(t)
	var big strings.Builder
	big.WriteString("$TTL 3600\n@ SOA ns1.example.net. hostmaster.example.net. 1 7200 3600 1209600 300\n@ NS ns1.example.net.\n")
	for i := range 50000 {
		fmt.Fprintf(&big, "h%d A 10.%d.%d.%d\n", i, i>>16&255, i>>8&255, i&255)
	}
	writeAtomic(t, filepath.Join(u.zones, "big.example.zone"), big.String())
	bigKey := makeKey(t, "hmac-sha256", "big.example")
	u.writePolicy(t, "big.example", bigKey.conf+"grant big.example zonesub ANY;\n")
	s := u.start(t, "dnssec")
	send := func(k tsigKey, zone, name string) error {
		m := new(dns.Msg)
		m.SetUpdate(zone)
		m.Insert([]dns.RR{mustRR(t, name+" 60 IN TXT \"x\"")})
		kn := dns.Fqdn(k.name)
		alg := map[string]string{"hmac-sha256": dns.HmacSHA256, "hmac-sha512": dns.HmacSHA512}[k.alg]
		m.SetTsig(kn, alg, 300, time.Now().Unix())
		c := &dns.Client{Net: "tcp", Timeout: 30 * time.Second, TsigSecret: map[string]string{kn: k.secret}}
		resp, _, err := c.Exchange(m, s.addr)
		if err == nil && resp.Rcode != dns.RcodeSuccess {
			err = fmt.Errorf("%s", dns.RcodeToString[resp.Rcode])
		}
		return err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := send(bigKey, "big.example.", "x.big.example."); err != nil {
			t.Error(err)
		}
	}()
	// Small updates of another zone, one after the other, while the large
	// one is in flight: with the large zone built and signed under the lock,
	// at most the first could get in before it.
	before := 0
	for i := 0; ; i++ {
		select {
		case <-done:
			if before < 3 {
				t.Fatalf("%d updates of another zone were acknowledged while the large zone's update was applied", before)
			}
			return
		default:
		}
		if err := send(u.acme, "example.com.", "_acme-challenge.example.com."); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		default:
			before++
		}
		if i > 100000 {
			t.Fatal("the large zone's update never finished")
		}
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
