package test

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

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
			// Lines of other work (state writes, NOTIFY) may come between.
			added := strings.TrimPrefix(s.log.String(), before)
			var lines []string
			for _, l := range strings.Split(added, "\n") {
				if strings.Contains(l, "update by ") {
					lines = append(lines, l)
				}
			}
			if len(lines) != 1 || !strings.Contains(lines[0], c.rule) {
				t.Errorf("want one log line of the update, naming %s, got %d:\n%s", c.rule, len(lines), added)
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
