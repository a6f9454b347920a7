package mxzone

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestTrustBetweenTenants: only the provider's zones (protect) have edits
// and deletions held back when they would break other zones. Another
// tenant's edit stands; the zone it breaks keeps serving as it is and gets
// a finding that says why.
func TestTrustBetweenTenants(t *testing.T) {
	shop := soaZone("shop.example.", "@ MX 10 mail1.example.com.")
	owner := soaZone("example.com.", "mail1 A 192.0.2.25", "www A 192.0.2.80")
	load := func(t *testing.T) (*MXZone, string) {
		dir := writeZones(t, map[string]string{"example.net.zone": provider, "shop.example.zone": shop,
			"example.com.zone": owner, "a.example.zone": customer("a.example.", "1")})
		m := newTestPlugin(t, dir, DefaultPolicy())
		m.loader.protected = map[string]bool{"example.net.": true}
		return m, dir
	}
	t.Run("no pinning: a tenant removes a host another tenant's MX names", func(t *testing.T) {
		m, dir := load(t)
		writeFile(t, dir, "example.com.zone", soaZone("example.com.", "www A 192.0.2.80"))
		if err := m.reloadNames([]string{"example.com.zone"}); err != nil {
			t.Fatal(err)
		}
		g := m.gen.Load()
		if e := g.zones["example.com."]; e.status != outcomeServed {
			t.Fatalf("the owner's edit was held: %s %v", e.status, e.findings)
		}
		if rcode := rcodeOf(t, m, "mail1.example.com.", dns.TypeA); rcode != dns.RcodeNameError {
			t.Fatalf("mail1 still answers: rcode %s", dns.RcodeToString[rcode])
		}
		s := g.zones["shop.example."]
		var said bool
		for _, f := range s.findings {
			said = said || f.Severity == SeverityFail && strings.Contains(f.Message, "mail1.example.com. does not exist in zone example.com.")
		}
		if s.status != outcomeServed || !said || len(g.zones["shop.example."].zone.mx) != 1 {
			t.Fatalf("shop.example.: status %s, findings %v: want served as it is, with a finding", s.status, s.findings)
		}
		// The owner puts mail1 back: the finding goes.
		writeFile(t, dir, "example.com.zone", owner)
		if err := m.reloadNames([]string{"example.com.zone"}); err != nil {
			t.Fatal(err)
		}
		if f := failingOf(m, "shop.example."); len(f) != 0 {
			t.Fatalf("finding left after the fix: %v", f)
		}
	})
	t.Run("a protected zone's deletion that would break customers is held", func(t *testing.T) {
		m, dir := load(t)
		if err := os.Remove(filepath.Join(dir, "example.net.zone")); err != nil {
			t.Fatal(err)
		}
		if err := m.reloadNames([]string{"example.net.zone"}); err != nil {
			t.Fatal(err)
		}
		if rcode := rcodeOf(t, m, "mx1.example.net.", dns.TypeA); rcode != dns.RcodeSuccess {
			t.Fatalf("the provider's zone went although a.example. depends on it: %s", dns.RcodeToString[rcode])
		}
		e := m.gen.Load().zones["example.net."]
		if e.status != outcomeLastGood || len(e.findings) != 1 ||
			!strings.Contains(e.findings[0].Message, "deletion refused: zone a.example. depends on it") {
			t.Fatalf("status %s, findings %v: want the deletion held with a finding", e.status, e.findings)
		}
		// The customer moves its MX away: the deletion goes through.
		writeFile(t, dir, "a.example.zone", soaZone("a.example.", "@ MX 10 mail.elsewhere.test."))
		for range 2 { // the first build still sees the old dependency
			if err := m.reloadNames([]string{"a.example.zone"}); err != nil {
				t.Fatal(err)
			}
		}
		if rcode := rcodeOf(t, m, "mx1.example.net.", dns.TypeA); rcode != dns.RcodeRefused {
			t.Fatalf("the deletion did not go through once nothing depends on the zone: %s", dns.RcodeToString[rcode])
		}
	})
	t.Run("an unprotected zone's deletion stands", func(t *testing.T) {
		m, dir := load(t)
		if err := os.Remove(filepath.Join(dir, "example.com.zone")); err != nil {
			t.Fatal(err)
		}
		if err := m.reloadNames([]string{"example.com.zone"}); err != nil {
			t.Fatal(err)
		}
		if rcode := rcodeOf(t, m, "www.example.com.", dns.TypeA); rcode != dns.RcodeRefused {
			t.Fatalf("the deleted tenant zone still answers: %s", dns.RcodeToString[rcode])
		}
		if rcode := rcodeOf(t, m, "shop.example.", dns.TypeMX); rcode != dns.RcodeSuccess {
			t.Fatal("the zone that depended on it stopped serving")
		}
	})
}

// failingOf returns the failing findings of origin.
func failingOf(m *MXZone, origin string) []Finding {
	var out []Finding
	for _, f := range findingsOf(m, origin) {
		if f.Severity == SeverityFail {
			out = append(out, f)
		}
	}
	return out
}

// rcodeOf is the rcode the client gets: the reply's, or the one the server
// writes for the handler.
func rcodeOf(t *testing.T, m *MXZone, name string, qtype uint16) int {
	msg, rcode := query(t, m, name, qtype)
	if msg != nil {
		return msg.Rcode
	}
	return rcode
}
