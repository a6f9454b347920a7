package mxzone

import (
	"strings"
	"testing"

	"github.com/coredns-mx/coredns-mx/internal/zonetest"
)

// provider is the provider's zone that customer MX records point into.
var provider = zonetest.Provider

// loadCustomer serves the provider's zone and customer.example. with lines.
func loadCustomer(t *testing.T, lines ...string) *MXZone {
	t.Helper()
	dir := writeZones(t, map[string]string{
		"example.net.zone":      provider,
		"customer.example.zone": soaZone("customer.example.", lines...),
	})
	return newTestPlugin(t, dir, DefaultPolicy())
}

func TestValidationRules(t *testing.T) {
	tests := []struct {
		name    string
		lines   []string // added to a valid customer zone customer.example.
		rule    Rule
		line    int    // of the finding in customer.example.zone
		message string // part of the message
	}{
		{"meta type as data (RFC 6895 section 3.1)", []string{"x TYPE255 \\# 0"}, RuleIntegrity, 5, "ANY is a meta or query type, not data"},
		{"meta range as data (RFC 6895 section 3.1)", []string{"x TYPE200 \\# 1 00"}, RuleIntegrity, 5, "TYPE200 is a meta or query type"},
		{"RDATA longer than its type (RFC 3597 section 5)", []string{"x A \\# 5 0A00000100"}, RuleSyntax, 5, "RDATA given as 5 bytes, but it holds 4 for a A record"},
		{"DS at the apex (RFC 4035 section 2.4)", []string{"@ DS 1 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE5A1D8D86B9F3C7B4E0A2E8C1"}, RuleIntegrity, 5, "DS at the apex"},
		{"SvcParamKey twice (RFC 9460 appendix D.3)", []string{"s SVCB 1 foo.example.com. ( key123=abc key123=def )"}, RuleIntegrity, 5, "key123 appears twice"},
		{"mandatory without keys (RFC 9460 appendix D.3)", []string{"s SVCB 1 foo.example.com. mandatory"}, RuleIntegrity, 5, "mandatory lists no keys"},
		{"alpn without ids (RFC 9460 appendix D.3)", []string{"s HTTPS 1 . alpn"}, RuleIntegrity, 5, "alpn has an empty protocol id"},
		{"mandatory key missing (RFC 9460 appendix D.3)", []string{"s SVCB 1 foo.example.com. mandatory=key123"}, RuleIntegrity, 5, "lists key123, which the record does not give"},
		{"mandatory lists itself (RFC 9460 appendix D.3)", []string{"s SVCB 1 foo.example.com. ( mandatory=mandatory )"}, RuleIntegrity, 5, "mandatory lists itself"},
		{"mandatory lists a key twice (RFC 9460 appendix D.3)", []string{"s SVCB 1 foo.example.com. ( mandatory=key123,key123 key123=abc )"}, RuleIntegrity, 5, "mandatory lists key123 twice"},
		{"no-default-alpn with a value (RFC 9460 appendix D.3)", []string{"s SVCB 1 foo.example.com. no-default-alpn=abc"}, RuleSyntax, 5, "no-default-alpn"},
		{"port without a value (RFC 9460 appendix D.3)", []string{"s SVCB 1 foo.example.com. port"}, RuleSyntax, 5, "port"},
		{"IPv4 in ipv6hint (RFC 9460 appendix D.3)", []string{"s SVCB 1 foo.example.com. ( ipv6hint=1.2.3.4 )"}, RuleSyntax, 5, "ipv6hint"},
		{"IPv4 beside a mapped address in ipv6hint (RFC 9460 section 7.3)", []string{"s SVCB 1 foo.example.com. ipv6hint=::ffff:1.2.3.4,1.2.3.4"}, RuleSyntax, 5, "ipv6hint"},
		{"MX at a CNAME", []string{"@ MX 10 alias.example.net."}, RuleMXCNAME, 5, "is a CNAME for mx1.example.net."},
		{"MX at a CNAME through a wildcard", []string{"@ MX 10 x.wildcname.example.net."}, RuleMXCNAME, 5, "wildcard"},
		{"MX at a name with no address", []string{"@ MX 10 txtonly.example.net."}, RuleMXAddress, 5, "has no A or AAAA record (it has TXT)"},
		{"MX at a missing name", []string{"@ MX 10 nohost.example.net."}, RuleMXAddress, 5, "does not exist in zone example.net."},
		{"MX at an empty non-terminal", []string{"@ MX 10 ent.example.net."}, RuleMXAddress, 5, "exists only because names below it do"},
		{"MX in the zone itself", []string{"@ MX 10 mail"}, RuleMXAddress, 5, "mail.customer.example. does not exist"},
		{"forgotten final dot", []string{"@ MX 10 mx1.example.net"}, RuleMXAddress, 5, `write "mx1.example.net."`},
		{"IPv4 literal", []string{"@ MX 10 192.0.2.1."}, RuleMXIP, 5, "IP address 192.0.2.1"},
		{"relative IPv4 literal", []string{"@ MX 10 192.0.2.1"}, RuleMXIP, 5, "IP address 192.0.2.1"},
		{"IPv6 literal", []string{"@ MX 10 2001:db8::1."}, RuleMXIP, 5, "IP address 2001:db8::1"},
		{"null MX beside another MX", []string{"@ MX 10 mx1.example.net.", "@ MX 0 ."}, RuleNullMX, 6, "stands beside 1 other"},
		{"null MX with a preference", []string{"@ MX 10 ."}, RuleNullMX, 5, "preference 10"},
		{"CNAME beside other data", []string{"www CNAME mx1.example.net.", "www TXT \"x\""}, RuleIntegrity, 5, "CNAME beside other data (TXT)"},
		{"duplicate record", []string{"www A 192.0.2.1", "www A 192.0.2.1"}, RuleIntegrity, 6, "first at line 5"},
		{"SOA below the apex", []string{"www SOA a. b. 1 1 1 1 1"}, RuleIntegrity, 5, "below the apex"},
		{"owner outside the origin", []string{"www.other.example. A 192.0.2.1"}, RuleIsolation, 5, "outside the zone customer.example."},
		{"$ORIGIN to another tenant", []string{"$ORIGIN other.example.", "www A 192.0.2.1"}, RuleIsolation, 6, "outside the zone"},
		{"record over several lines", []string{"@ MX (", "  10", "  txtonly.example.net. )"}, RuleMXAddress, 5, "has no A or AAAA"},
		{"syntax error", []string{"@ MX ten mail"}, RuleSyntax, 5, "bad MX Pref"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := loadCustomer(t, tc.lines...)
			found := findingsOf(m, "customer.example.")
			var hit *Finding
			for i, f := range found {
				if f.Rule == tc.rule && strings.Contains(f.Message, tc.message) {
					hit = &found[i]
				}
			}
			if hit == nil {
				t.Fatalf("no %s finding containing %q; got %v", tc.rule, tc.message, found)
			}
			if hit.Line != tc.line || !strings.HasSuffix(hit.File, "customer.example.zone") {
				t.Errorf("finding at %s:%d, want line %d", hit.File, hit.Line, tc.line)
			}
			if e := m.gen.Load().zones["customer.example."]; e.zone != nil {
				t.Errorf("zone with a failing finding is served; findings %v", found)
			}
			if e := m.gen.Load().zones["example.net."]; e.zone == nil {
				t.Errorf("the provider's zone must not suffer from a customer's mistake")
			}
		})
	}
}

func TestValidationPasses(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
	}{
		{"MX at an address in another zone", []string{"@ MX 10 mx1.example.net."}},
		{"MX at an address through a wildcard", []string{"@ MX 10 host.wild.example.net."}},
		{"MX outside every served zone", []string{"@ MX 10 aspmx.l.google.com."}},
		{"MX below a delegation", []string{"@ MX 10 mail.sub.example.net."}},
		{"null MX alone", []string{"@ MX 0 ."}},
		{"wildcard MX", []string{"*.customer.example. MX 10 mx1.example.net."}},
		// Served in order (RFC 4034 section 4.1.2), as BIND and Knot read it.
		{"NSEC type bitmap out of order", []string{"x NSEC y.customer.example. MX A"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := loadCustomer(t, tc.lines...)
			if e := m.gen.Load().zones["customer.example."]; e.zone == nil || e.status != outcomeServed {
				t.Fatalf("zone refused: %v", findingsOf(m, "customer.example."))
			}
		})
	}
}

func TestPolicySeverities(t *testing.T) {
	dir := writeZones(t, map[string]string{
		"example.net.zone":      provider,
		"customer.example.zone": soaZone("customer.example.", "@ MX 10 alias.example.net."),
	})
	for _, sev := range []Severity{SeverityWarn, SeverityIgnore} {
		t.Run(sev.String(), func(t *testing.T) {
			p := DefaultPolicy()
			p.Rules[RuleMXCNAME] = sev
			m := newTestPlugin(t, dir, p)
			if e := m.gen.Load().zones["customer.example."]; e.zone == nil {
				t.Fatal("zone refused although the rule is not fail")
			}
			found := findingsOf(m, "customer.example.")
			if (sev == SeverityWarn) != (len(found) == 1 && found[0].Severity == SeverityWarn) {
				t.Fatalf("findings %v", found)
			}
		})
	}
}

func TestFindingFormat(t *testing.T) {
	f := Finding{File: "zones/a.example.zone", Line: 7, Owner: "a.example.", Rule: RuleMXCNAME, Severity: SeverityFail, Message: "m"}
	if got, want := f.String(), "zones/a.example.zone:7: error: a.example.: m (mx_target_cname)"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
