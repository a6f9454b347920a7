package mxzone

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/coredns-mx/coredns-mx/internal/zonetest"
)

// mailProvider is a provider zone with the mail records customers build on,
// and one name of each shape the mail checks look at.
var mailProvider = zonetest.SOA("example.net.",
	"@ MX 10 mx1",
	"mx1 A 192.0.2.25",
	"mx1 AAAA 2001:db8::25",
	"lo A 127.0.0.1",
	"priv A 10.0.0.25",
	"mixed A 10.0.0.26",
	"mixed A 8.8.8.8",
	"_spf TXT \"v=spf1 ip4:192.0.2.0/24 -all\"",
	"nospf TXT \"not an spf record\"",
	"many TXT \"v=spf1 include:l1.example.net include:l2.example.net include:l3.example.net -all\"",
	"l1 TXT \"v=spf1 a mx -all\"",
	"l2 TXT \"v=spf1 a mx -all\"",
	"l3 TXT \"v=spf1 a mx -all\"",
	"l1 A 192.0.2.1",
	"l2 A 192.0.2.1",
	"l3 A 192.0.2.1",
	"l1 MX 10 mx1",
	"l2 MX 10 mx1",
	"l3 MX 10 mx1",
	"*._report._dmarc TXT \"v=DMARC1\"",
	"nomail MX 0 .",
)

// noAuth is a zone of another organization that takes mail but authorizes
// no one's DMARC reports.
var noAuth = zonetest.SOA("noauth.example.", "@ MX 10 mx1.example.net.")

// loadMail serves the mail provider, noauth.example. and customer.example.
// with lines.
func loadMail(t *testing.T, lines ...string) *MXZone {
	t.Helper()
	dir := writeZones(t, map[string]string{
		"example.net.zone":      mailProvider,
		"noauth.example.zone":   noAuth,
		"customer.example.zone": soaZone("customer.example.", lines...),
	})
	p := DefaultPolicy()
	p.Notes = true // the infos too
	return newTestPlugin(t, dir, p)
}

func TestMailRules(t *testing.T) {
	ed := base64.StdEncoding.EncodeToString(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey))
	spki, _ := x509.MarshalPKIXPublicKey(ed25519.NewKeyFromSeed(make([]byte, 32)).Public())
	rsaShort := base64.StdEncoding.EncodeToString(spki)[:20]
	sha256 := strings.Repeat("ab", 32)
	elevenMX := []string{}
	for i := range 11 {
		elevenMX = append(elevenMX, fmt.Sprintf("big MX %d mx1.example.net.", i))
	}
	tests := []struct {
		name    string
		lines   []string // added to customer.example.: the first is line 5
		rule    Rule
		sev     Severity
		line    int
		message string
	}{
		{"MX at a name with an underscore (RFC 1123 section 2.1)", []string{"@ MX 10 _mx.example.net."}, RuleMXHostname, SeverityFail, 5, "is not a host name"},
		{"MX at a wildcard name (RFC 5321 section 2.3.5)", []string{"@ MX 10 *.wild.example.net."}, RuleMXHostname, SeverityFail, 5, `holds "*"`},
		{"MX at loopback (RFC 6890)", []string{"@ MX 10 lo.example.net."}, RuleMXReachable, SeverityFail, 5, "127.0.0.1, which is loopback"},
		{"MX at a private address (RFC 6890)", []string{"@ MX 10 priv.example.net."}, RuleMXReachable, SeverityWarn, 5, "only private addresses"},
		{"MX at a documentation address (RFC 5737)", []string{"@ MX 10 mx1.example.net."}, RuleMXReachable, SeverityInfo, 5, "reserved for documentation"},

		{"two SPF records (RFC 7208 section 3.2)", []string{"@ TXT \"v=spf1 -all\"", "@ TXT \"v=spf1 mx -all\""}, RuleSPF, SeverityFail, 6, "second SPF record"},
		{"version glued to a term (RFC 7208 section 4.5)", []string{"@ TXT \"v=spf1include:_spf.example.net -all\""}, RuleSPF, SeverityFail, 5, "followed by a space"},
		{"CIDR out of range (RFC 7208 section 5.6)", []string{"@ TXT \"v=spf1 ip4:192.0.2.0/33 -all\""}, RuleSPF, SeverityFail, 5, "octet 8: \"ip4:192.0.2.0/33\": prefix length /33"},
		{"strings joined into one term (RFC 7208 section 3.3)", []string{"@ TXT \"v=spf1 ip4:192.0.2.1\" \"-all\""}, RuleSPF, SeverityFail, 5, "strings 1 and 2 are joined here"},
		{"include of a name without SPF (RFC 7208 section 5.2)", []string{"@ TXT \"v=spf1 include:nospf.example.net -all\""}, RuleSPF, SeverityFail, 5, "has no SPF record in zone example.net."},
		{"include of a missing name (RFC 7208 section 5.2)", []string{"@ TXT \"v=spf1 include:gone.example.net -all\""}, RuleSPF, SeverityFail, 5, "does not exist in zone example.net."},
		{"redirect of a name without SPF (RFC 7208 section 6.1)", []string{"@ TXT \"v=spf1 redirect=nospf.example.net\""}, RuleSPF, SeverityFail, 5, "redirect=nospf.example.net names"},
		{"include loop (RFC 7208 section 4.6.4)", []string{"@ TXT \"v=spf1 include:_spf.customer.example -all\"", "_spf TXT \"v=spf1 include:customer.example -all\""}, RuleSPF, SeverityFail, 5, "loops back to customer.example"},
		{"own include missing in the zone itself (RFC 7208 section 5.2)", []string{"@ TXT \"v=spf1 include:_spf.customer.example -all\""}, RuleSPF, SeverityFail, 5, "does not exist in zone customer.example."},
		{"SPF type only (RFC 7208 section 3.1)", []string{"@ SPF \"v=spf1 -all\""}, RuleSPF, SeverityFail, 5, "only as the obsolete SPF record type"},
		{"SPF type beside TXT (RFC 7208 section 3.1)", []string{"@ TXT \"v=spf1 -all\"", "@ SPF \"v=spf1 -all\""}, RuleSPF, SeverityWarn, 6, "obsolete"},
		{"ptr (RFC 7208 section 5.5)", []string{"@ TXT \"v=spf1 ptr -all\""}, RuleSPF, SeverityWarn, 5, "ptr is slow"},
		{"terms after all (RFC 7208 section 5.1)", []string{"@ TXT \"v=spf1 -all mx\""}, RuleSPF, SeverityWarn, 5, "never evaluated"},

		{"over 10 look-ups through includes (RFC 7208 section 4.6.4)", []string{"@ TXT \"v=spf1 a mx include:many.example.net -all\""}, RuleSPFLookups, SeverityFail, 5, "more than 10 DNS look-ups"},
		{"over 10 look-ups with external parts (RFC 7208 section 4.6.4)", []string{"@ TXT \"v=spf1 include:_spf.google.com a mx include:many.example.net -all\""}, RuleSPFLookups, SeverityFail, 5, "outside the served zones, not counted: include:_spf.google.com"},
		{"near the limit with external parts (RFC 7208 section 4.6.4)", []string{"@ TXT \"v=spf1 a mx include:l1.example.net include:l2.example.net include:_spf.google.com -all\""}, RuleSPFLookups, SeverityWarn, 5, "needs 9 + external DNS look-ups"},
		{"external parts (RFC 7208 section 4.6.4)", []string{"@ TXT \"v=spf1 include:_spf.google.com -all\""}, RuleSPFLookups, SeverityInfo, 5, "needs 1 + external"},
		{"void look-ups (RFC 7208 section 4.6.4)", []string{"@ TXT \"v=spf1 a:v1.customer.example a:v2.customer.example mx:v3.customer.example -all\""}, RuleSPFLookups, SeverityFail, 5, "3 look-ups that find nothing"},
		{"mx with 11 MX records (RFC 7208 section 4.6.4)", append([]string{"@ TXT \"v=spf1 mx:big.customer.example -all\""}, elevenMX...), RuleSPFLookups, SeverityFail, 5, "has 11 MX records"},

		{"+all (RFC 7208 section 5.1)", []string{"@ TXT \"v=spf1 mx +all\""}, RuleSPFPermissive, SeverityFail, 5, `"+all" passes every host`},
		{"bare all (RFC 7208 section 5.1)", []string{"@ TXT \"v=spf1 mx all\""}, RuleSPFPermissive, SeverityFail, 5, `"all" passes every host`},
		{"?all (RFC 7208 section 8.2)", []string{"@ TXT \"v=spf1 mx ?all\""}, RuleSPFPermissive, SeverityWarn, 5, "?all"},
		{"no all (RFC 7208 section 4.7)", []string{"@ TXT \"v=spf1 mx\""}, RuleSPFPermissive, SeverityWarn, 5, "neither all nor redirect"},

		{"two DMARC records (RFC 7489 section 6.6.3)", []string{"_dmarc TXT \"v=DMARC1; p=none\"", "_dmarc TXT \"v=DMARC1; p=reject\""}, RuleDMARC, SeverityFail, 6, "second DMARC record"},
		{"policy misspelt (RFC 7489 section 6.3)", []string{"_dmarc TXT \"v=DMARC1; p=rejct\""}, RuleDMARC, SeverityFail, 5, `did you mean "reject"`},
		{"version not first (RFC 7489 section 6.3)", []string{"_dmarc TXT \"p=reject; v=DMARC1\""}, RuleDMARC, SeverityFail, 5, "first tag"},
		{"tag twice (RFC 7489 section 6.3)", []string{"_dmarc TXT \"v=DMARC1; p=none; p=reject\""}, RuleDMARC, SeverityFail, 5, "appears twice"},
		{"no policy (RFC 7489 section 6.6.3)", []string{"_dmarc TXT \"v=DMARC1; rua=mailto:d@customer.example\""}, RuleDMARC, SeverityWarn, 5, "no p= tag"},
		{"rua without mailto (RFC 7489 section 6.2)", []string{"_dmarc TXT \"v=DMARC1; p=none; rua=d@customer.example\""}, RuleDMARC, SeverityWarn, 5, "write mailto:d@customer.example"},
		{"DMARC elsewhere (RFC 7489 section 6.1)", []string{"@ TXT \"v=DMARC1; p=none\""}, RuleDMARC, SeverityWarn, 5, "does not start with _dmarc"},
		{"SPF at _dmarc (RFC 7208 section 4.4)", []string{"_dmarc TXT \"v=spf1 -all\""}, RuleDMARC, SeverityWarn, 5, "does nothing"},
		{"unknown tag (RFC 7489 section 6.3)", []string{"_dmarc TXT \"v=DMARC1; p=none; foo=bar\""}, RuleDMARC, SeverityInfo, 5, "not defined"},

		{"reports to an organization that does not authorize them (RFC 7489 section 7.1)", []string{"_dmarc TXT \"v=DMARC1; p=none; rua=mailto:r@noauth.example\""}, RuleDMARCReports, SeverityWarn, 5, "customer.example._report._dmarc.noauth.example."},
		{"reports to a domain without mail (RFC 7489 section 7.1)", []string{"_dmarc TXT \"v=DMARC1; p=none; rua=mailto:r@nomail.example.net\""}, RuleDMARCReports, SeverityWarn, 5, "null MX"},
		{"reports to a missing domain (RFC 7489 section 7.1)", []string{"_dmarc TXT \"v=DMARC1; p=none; ruf=mailto:r@gone.customer.example\""}, RuleDMARCReports, SeverityWarn, 5, "does not exist"},

		{"DKIM key without p= (RFC 6376 section 3.6.1)", []string{"s1._domainkey TXT \"v=DKIM1; k=rsa\""}, RuleDKIM, SeverityFail, 5, "no p= tag"},
		{"DKIM key cut short (RFC 6376 section 3.6.1)", []string{"s1._domainkey TXT \"v=DKIM1; p=" + rsaShort + "\""}, RuleDKIM, SeverityFail, 5, "cut short"},
		{"DKIM Ed25519 key of the wrong size (RFC 8463 section 4.2)", []string{"s1._domainkey TXT \"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(spki) + "\""}, RuleDKIM, SeverityFail, 5, "32 octets"},
		{"two keys at a selector (RFC 6376 section 3.6.2.2)", []string{"s1._domainkey TXT \"v=DKIM1; k=ed25519; p=" + ed + "\"", "s1._domainkey TXT \"v=DKIM1; p=\""}, RuleDKIM, SeverityFail, 6, "2 TXT records at one DKIM selector"},
		{"revoked key (RFC 6376 section 3.6.1)", []string{"s1._domainkey TXT \"v=DKIM1; p=\""}, RuleDKIM, SeverityInfo, 5, "revoked"},

		{"MTA-STS without id (RFC 8461 section 3.1)", []string{"_mta-sts TXT \"v=STSv1;\"", "mta-sts A 192.0.2.80", "@ MX 10 mx1.example.net."}, RuleMTASTS, SeverityFail, 5, "no id= field"},
		{"two MTA-STS records (RFC 8461 section 3.1)", []string{"_mta-sts TXT \"v=STSv1; id=1\"", "_mta-sts TXT \"v=STSv1; id=2\""}, RuleMTASTS, SeverityFail, 6, "second MTA-STS record"},
		{"MTA-STS version misspelt (RFC 8461 section 3.1)", []string{"_mta-sts TXT \"v=stsv1; id=1\""}, RuleMTASTS, SeverityFail, 5, "starts with exactly \"v=STSv1\""},
		{"MTA-STS policy host without address (RFC 8461 section 3.3)", []string{"_mta-sts TXT \"v=STSv1; id=1\"", "@ MX 10 mx1.example.net."}, RuleMTASTS, SeverityWarn, 5, "mta-sts.customer.example. does not exist"},
		{"MTA-STS on a domain without mail (RFC 8461 section 5)", []string{"_mta-sts TXT \"v=STSv1; id=1\"", "mta-sts A 192.0.2.80", "@ MX 0 ."}, RuleMTASTS, SeverityWarn, 5, "null MX"},
		{"MTA-STS on a domain without MX (RFC 8461 section 4.1)", []string{"_mta-sts TXT \"v=STSv1; id=1\"", "mta-sts A 192.0.2.80", "@ A 192.0.2.80"}, RuleMTASTS, SeverityWarn, 5, "has no MX records"},

		{"TLS-RPT without rua (RFC 8460 section 3)", []string{"_smtp._tls TXT \"v=TLSRPTv1;\""}, RuleTLSRPT, SeverityFail, 5, "no rua= field"},
		{"TLS-RPT rua not a URI (RFC 8460 section 3)", []string{"_smtp._tls TXT \"v=TLSRPTv1; rua=tls@customer.example\""}, RuleTLSRPT, SeverityFail, 5, "mailto: or https:"},
		{"two TLS-RPT records (RFC 8460 section 3)", []string{"_smtp._tls TXT \"v=TLSRPTv1; rua=mailto:a@customer.example\"", "_smtp._tls TXT \"v=TLSRPTv1; rua=mailto:b@customer.example\""}, RuleTLSRPT, SeverityFail, 6, "second TLS-RPT record"},

		{"TLSA hash too short (RFC 6698 section 2.1.3)", []string{"_25._tcp.mail TLSA 3 1 1 " + sha256[:62]}, RuleTLSA, SeverityFail, 5, "31 octets"},
		{"TLSA matching type 3 (RFC 6698 section 2.1.3)", []string{"_25._tcp.mail TLSA 3 1 3 " + sha256}, RuleTLSA, SeverityFail, 5, "matching type 3"},
		{"TLSA PKIX-EE for SMTP (RFC 7672 section 3.1.3)", []string{"_25._tcp.mail TLSA 1 1 1 " + sha256}, RuleTLSA, SeverityWarn, 5, "not for SMTP"},
		{"TLSA in an unsigned zone (RFC 7672 section 2.2)", []string{"_25._tcp.mail TLSA 3 1 1 " + sha256}, RuleTLSA, SeverityInfo, 5, "no DNSKEY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := loadMail(t, tc.lines...)
			found := findingsOf(m, "customer.example.")
			var hit *Finding
			for i, f := range found {
				if f.Rule == tc.rule && f.Severity == tc.sev && strings.Contains(f.Message, tc.message) {
					hit = &found[i]
				}
			}
			if hit == nil {
				t.Fatalf("no %s %s finding containing %q; got %v", tc.sev, tc.rule, tc.message, found)
			}
			if hit.Line != tc.line || !strings.HasSuffix(hit.File, "customer.example.zone") {
				t.Errorf("finding at %s:%d, want line %d", hit.File, hit.Line, tc.line)
			}
			e := m.gen.Load().zones["customer.example."]
			if served := e.zone != nil; served == (tc.sev == SeverityFail) {
				t.Errorf("served: %v with a finding of severity %s; findings %v", served, tc.sev, found)
			}
			if e := m.gen.Load().zones["example.net."]; e.status != outcomeServed {
				t.Errorf("the provider's zone must not suffer from a customer's mistake: %v", e.findings)
			}
		})
	}
}

func TestMailPasses(t *testing.T) {
	ed := base64.StdEncoding.EncodeToString(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey))
	tests := []struct {
		name  string
		lines []string
	}{
		{"SPF with an include in another zone (RFC 7208 section 5.2)", []string{"@ TXT \"v=spf1 mx include:_spf.example.net -all\"", "@ MX 10 mx1.example.net."}},
		{"SPF with a redirect (RFC 7208 section 6.1)", []string{"@ TXT \"v=spf1 redirect=_spf.example.net\""}},
		{"SPF split across strings (RFC 7208 section 3.3)", []string{"@ TXT \"v=spf1 include:_spf.exa\" \"mple.net -all\""}},
		{"SPF at an include-only name with ?all (RFC 7208 section 5.2)", []string{"_spf TXT \"v=spf1 ip4:192.0.2.1 ?all\""}},
		{"SPF with 10 look-ups (RFC 7208 section 4.6.4)", []string{"@ TXT \"v=spf1 include:many.example.net -all\""}},
		{"SPF and many unrelated TXT (RFC 7208 section 4.5)", []string{"@ TXT \"google-site-verification=abc\"", "@ TXT \"v=spf1 -all\""}},
		{"DMARC with reports to an authorizing provider (RFC 7489 section 7.1)", []string{"_dmarc TXT \"v=DMARC1; p=reject; rua=mailto:d@example.net; ruf=mailto:f@example.net\""}},
		{"DMARC with reports inside the organization (RFC 7489 section 7.1)", []string{"_dmarc TXT \"v=DMARC1; p=reject; rua=mailto:d@customer.example\"", "@ MX 10 mx1.example.net."}},
		{"DMARC and other TXT at _dmarc (RFC 7489 section 6.6.3)", []string{"_dmarc TXT \"v=DMARC1; p=none\"", "_dmarc TXT \"some other text\""}},
		{"DKIM Ed25519 (RFC 8463)", []string{"s1._domainkey TXT \"v=DKIM1; k=ed25519; p=" + ed + "\""}},
		{"ADSP policy, not a DKIM key (RFC 5617 section 4.2)", []string{"_adsp._domainkey TXT \"dkim=all\""}},
		{"MTA-STS and TLS-RPT (RFC 8461, RFC 8460)", []string{"@ MX 10 mx1.example.net.", "_mta-sts TXT \"v=STSv1; id=20261130\"",
			"mta-sts A 192.0.2.80", "_smtp._tls TXT \"v=TLSRPTv1; rua=mailto:tls@customer.example\""}},
		{"MTA-STS beside other TXT (RFC 8461 section 3.1)", []string{"_mta-sts TXT \"v=STSv1; id=1\"", "_mta-sts TXT \"hello\"", "mta-sts CNAME sts.example.net.", "@ MX 10 mx1.example.net."}},
		{"TLSA DANE-EE (RFC 7672 section 3.1.1)", []string{"_25._tcp.mail TLSA 3 1 1 " + strings.Repeat("ab", 32)}},
		{"MX at a host with a public address (RFC 6890)", []string{"@ MX 10 mixed.example.net."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := loadMail(t, tc.lines...)
			e := m.gen.Load().zones["customer.example."]
			var bad []Finding
			for _, f := range e.findings {
				if f.Severity >= SeverityWarn && f.Rule != RuleMXReachable {
					bad = append(bad, f)
				}
			}
			if e.status != outcomeServed || len(bad) > 0 {
				t.Fatalf("status %s, findings %v", e.status, bad)
			}
		})
	}
}

func TestMailRulesFollowPolicy(t *testing.T) {
	lines := []string{"@ TXT \"v=spf1 mx +all\"", "@ TXT \"v=spf1 ?all\""}
	for _, sev := range []Severity{SeverityWarn, SeverityIgnore} {
		t.Run(sev.String(), func(t *testing.T) {
			p := DefaultPolicy()
			p.Rules[RuleSPF], p.Rules[RuleSPFPermissive] = sev, sev
			dir := writeZones(t, map[string]string{"example.net.zone": mailProvider,
				"customer.example.zone": soaZone("customer.example.", lines...)})
			m := newTestPlugin(t, dir, p)
			e := m.gen.Load().zones["customer.example."]
			if e.status != outcomeServed {
				t.Fatalf("refused although spf and spf_permissive are %s: %v", sev, e.findings)
			}
			n := 0
			for _, f := range e.findings {
				if f.Rule == RuleSPF || f.Rule == RuleSPFPermissive {
					n++
					if f.Severity != SeverityWarn {
						t.Errorf("finding at %s, want warning: %v", f.Severity, f)
					}
				}
			}
			if (sev == SeverityIgnore) != (n == 0) {
				t.Fatalf("%d spf findings with the rules %s: %v", n, sev, e.findings)
			}
		})
	}
}
