package update

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// FuzzApply feeds UPDATE messages of any shape (as the server unpacks them
// from the wire) to Apply: it returns, and what it changes is inside the
// zone, granted, and never a record the server's signer owns.
func FuzzApply(f *testing.F) {
	seed := func(build func(m *dns.Msg)) {
		m := new(dns.Msg)
		m.SetUpdate("example.com.")
		build(m)
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	rr := func(s string) []dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			f.Fatal(err)
		}
		return []dns.RR{r}
	}
	seed(func(m *dns.Msg) { m.Insert(rr(`_acme-challenge.example.com. 60 IN TXT "x"`)) })
	seed(func(m *dns.Msg) { m.RemoveName(rr("mail.example.com. 0 IN A 0.0.0.0")) })
	seed(func(m *dns.Msg) { m.Remove(rr("mail.example.com. 0 IN A 192.0.2.1")) })
	seed(func(m *dns.Msg) {
		m.Used(rr("mail.example.com. 0 IN A 192.0.2.1"))
		m.RemoveRRset(rr("example.com. 0 IN NS ns1.example.com."))
	})
	p, err := ParsePolicy("f", "example.com.", []byte(testPolicy))
	if err != nil {
		f.Fatal(err)
	}
	var zrrs []dns.RR
	for _, s := range zoneText {
		zrrs = append(zrrs, rr(s)...)
	}
	z := records(zrrs)
	f.Fuzz(func(t *testing.T, b []byte) {
		m := new(dns.Msg)
		if m.Unpack(b) != nil || len(m.Question) != 1 {
			return
		}
		for _, key := range []string{"acme.example.com.", "panel.example.com."} {
			res := Apply("example.com.", z, m, key, p, Limits{RRsetRecords: 100})
			if res.Rcode != dns.RcodeSuccess {
				if len(res.Del)+len(res.Add) > 0 {
					t.Fatalf("rcode %d with changes", res.Rcode)
				}
				continue
			}
			for _, c := range append(append([]dns.RR{}, res.Del...), res.Add...) {
				h := c.Header()
				if !dns.IsSubDomain("example.com.", strings.ToLower(h.Name)) || ServerOwned(h.Rrtype) || !p.Allows(key, strings.ToLower(h.Name), h.Rrtype) {
					t.Fatalf("key %s changed %s", key, c)
				}
			}
		}
	})
}
