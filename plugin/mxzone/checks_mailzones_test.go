package mxzone

import (
	"slices"
	"strings"
	"testing"

	"github.com/coredns-mx/coredns-mx/internal/zonetest"

	"github.com/miekg/dns"
)

// TestMailAcrossZones: SPF includes and DMARC report destinations in other
// served zones are dependencies like MX targets. An edit of a protected zone
// that would break a customer is held back with a finding naming the
// customers; another tenant's edit stands, and the zones it breaks are told.
func TestMailAcrossZones(t *testing.T) {
	providerWith := func(serial string, lines ...string) string {
		base := []string{"@ MX 10 mx1", "mx1 A 192.0.2.25", "_spf TXT \"v=spf1 ip4:192.0.2.0/24 -all\"",
			"*._report._dmarc TXT \"v=DMARC1\""}
		text := zonetest.SOA("example.net.", append(base, lines...)...)
		return strings.Replace(text, " 1 7200", " "+serial+" 7200", 1)
	}
	user := func(origin, include string) string {
		return soaZone(origin, "@ MX 10 mx1.example.net.", "@ TXT \"v=spf1 include:"+include+" -all\"",
			"_dmarc TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@example.net\"")
	}
	other := soaZone("other.example.", "_spf TXT \"v=spf1 ip4:198.51.100.0/24 -all\"")
	load := func(t *testing.T, policy Policy) (*MXZone, string) {
		dir := writeZones(t, map[string]string{"example.net.zone": providerWith("1"), "other.example.zone": other,
			"a.example.zone": user("a.example.", "_spf.example.net"), "b.example.zone": user("b.example.", "_spf.example.net"),
			"c.example.zone": user("c.example.", "_spf.other.example"), "quiet.example.zone": soaZone("quiet.example.")})
		m := newTestPlugin(t, dir, policy)
		m.loader.protected = map[string]bool{"example.net.": true}
		for _, o := range []string{"example.net.", "a.example.", "b.example.", "c.example.", "other.example."} {
			if e := m.gen.Load().zones[o]; e.status != outcomeServed || len(failingOf(m, o)) > 0 {
				t.Fatalf("%s: %s %v", o, e.status, e.findings)
			}
		}
		return m, dir
	}
	edit := func(t *testing.T, m *MXZone, dir, name, text string) {
		t.Helper()
		writeFile(t, dir, name, text)
		if err := m.reloadNames([]string{name}); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(t *testing.T, m *MXZone, want string) {
		t.Helper()
		e, f := m.gen.Load().zones["example.net."], failingOf(m, "example.net.")
		if e.status != outcomeLastGood || len(f) != 1 || !strings.Contains(f[0].Message, want) {
			t.Fatalf("provider: status %s, findings %v: want the edit refused with %q", e.status, f, want)
		}
		if rcode := rcodeOf(t, m, "_spf.example.net.", dns.TypeTXT); rcode != dns.RcodeSuccess {
			t.Fatalf("the last good provider zone is not served: %s", dns.RcodeToString[rcode])
		}
		for _, o := range []string{"a.example.", "b.example."} {
			if f := failingOf(m, o); len(f) > 0 {
				t.Fatalf("%s broken by a refused edit: %v", o, f)
			}
		}
	}
	t.Run("the dependency index knows the includes", func(t *testing.T) {
		m, _ := load(t, DefaultPolicy())
		g := m.gen.Load()
		if deps := g.deps["example.net."]; !slices.Contains(deps, "a.example.") || !slices.Contains(deps, "b.example.") ||
			slices.Contains(deps, "quiet.example.") {
			t.Fatalf("zones depending on example.net.: %v", deps)
		}
		if deps := g.deps["other.example."]; !slices.Equal(deps, []string{"c.example."}) {
			t.Fatalf("zones depending on other.example.: %v", deps)
		}
	})
	t.Run("a protected edit deleting an included record is refused", func(t *testing.T) {
		m, dir := load(t, DefaultPolicy())
		text := strings.Replace(providerWith("2"), "_spf TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n", "", 1)
		edit(t, m, dir, "example.net.zone", text)
		refused(t, m, "edit refused: 2 zones depend on it (a.example., b.example.)")
		// Put back, the edit is served.
		edit(t, m, dir, "example.net.zone", providerWith("3", "www A 192.0.2.80"))
		if e := m.gen.Load().zones["example.net."]; e.status != outcomeServed {
			t.Fatalf("fixed provider edit not served: %s %v", e.status, e.findings)
		}
	})
	t.Run("a protected edit pushing customers over 10 look-ups is refused", func(t *testing.T) {
		m, dir := load(t, DefaultPolicy())
		heavy := strings.Replace(providerWith("2", "h A 192.0.2.1", "h MX 10 mx1"), "v=spf1 ip4:192.0.2.0/24 -all",
			"v=spf1 a:h.example.net mx:h.example.net a:h.example.net mx:h.example.net a:h.example.net "+
				"mx:h.example.net a:h.example.net mx:h.example.net a:h.example.net mx:h.example.net -all", 1)
		edit(t, m, dir, "example.net.zone", heavy)
		refused(t, m, "more than 10 DNS look-ups")
	})
	t.Run("a protected edit removing the report authorization, when dmarc_reports fails", func(t *testing.T) {
		p := DefaultPolicy()
		p.Rules[RuleDMARCReports] = SeverityFail
		m, dir := load(t, p)
		edit(t, m, dir, "example.net.zone", strings.Replace(providerWith("2"), "*._report._dmarc", "x._report._dmarc", 1))
		refused(t, m, "a.example._report._dmarc.example.net.")
	})
	t.Run("with dmarc_reports at its default, the same edit stands and customers are warned", func(t *testing.T) {
		m, dir := load(t, DefaultPolicy())
		edit(t, m, dir, "example.net.zone", strings.Replace(providerWith("2"), "*._report._dmarc", "x._report._dmarc", 1))
		if e := m.gen.Load().zones["example.net."]; e.status != outcomeServed {
			t.Fatalf("provider edit held for a warning: %s %v", e.status, e.findings)
		}
		var warned bool
		for _, f := range findingsOf(m, "a.example.") {
			warned = warned || f.Rule == RuleDMARCReports && f.Severity == SeverityWarn
		}
		if !warned {
			t.Fatalf("a.example. not told: %v", findingsOf(m, "a.example."))
		}
	})
	t.Run("another tenant's edit stands and the zone it breaks is told", func(t *testing.T) {
		m, dir := load(t, DefaultPolicy())
		edit(t, m, dir, "other.example.zone", soaZone("other.example.", "www A 192.0.2.80"))
		if e := m.gen.Load().zones["other.example."]; e.status != outcomeServed {
			t.Fatalf("unprotected edit held: %s %v", e.status, e.findings)
		}
		c := m.gen.Load().zones["c.example."]
		f := failingOf(m, "c.example.")
		if c.status != outcomeServed || len(f) != 1 || !strings.Contains(f[0].Message, "which does not exist in zone other.example.") {
			t.Fatalf("c.example.: %s %v: want served as it is, with a finding naming other.example.", c.status, f)
		}
		// The tenant puts the record back: the finding goes.
		edit(t, m, dir, "other.example.zone", strings.Replace(other, " 1 7200", " 3 7200", 1))
		if f := failingOf(m, "c.example."); len(f) != 0 {
			t.Fatalf("finding left after the fix: %v", f)
		}
	})
}
