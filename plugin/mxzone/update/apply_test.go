package update

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// records is a Zone over a list of records.
type records []dns.RR

func (rs records) RRset(name string, t uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rs {
		if h := rr.Header(); strings.EqualFold(h.Name, name) && h.Rrtype == t {
			out = append(out, rr)
		}
	}
	return out
}

func (rs records) Types(name string) []uint16 {
	var out []uint16
	for _, rr := range rs {
		if h := rr.Header(); strings.EqualFold(h.Name, name) && !slices.Contains(out, h.Rrtype) {
			out = append(out, h.Rrtype)
		}
	}
	return out
}

func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return rr
}

func rrs(t *testing.T, list ...string) []dns.RR {
	var out []dns.RR
	for _, s := range list {
		out = append(out, mustRR(t, s))
	}
	return out
}

// wire sends m through the wire form, as the server receives it.
func wire(t *testing.T, m *dns.Msg) *dns.Msg {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	out := new(dns.Msg)
	if err := out.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return out
}

const testPolicy = `
key "acme.example.com." {
	algorithm hmac-sha256;
	secret "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgMTIzNA==";
};
key "panel.example.com" { algorithm hmac-sha512; secret "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgMTIzNA=="; };
grant acme.example.com. subdomain _acme-challenge.example.com. TXT;
deny panel.example.com. name locked.example.com.;
grant panel.example.com. zonesub ANY;
`

var zoneText = []string{
	"example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 10 3600 600 86400 300",
	"example.com. 3600 IN NS ns1.example.com.",
	"example.com. 3600 IN MX 10 mail.example.com.",
	"mail.example.com. 3600 IN A 192.0.2.1",
	"mail.example.com. 3600 IN A 192.0.2.2",
	"www.example.com. 3600 IN CNAME mail.example.com.",
	"locked.example.com. 3600 IN TXT \"keep\"",
	"_acme-challenge.example.com. 120 IN TXT \"old\"",
}

func TestApply(t *testing.T) {
	p, err := ParsePolicy("example.com.conf", "example.com.", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	z := records(rrs(t, zoneText...))
	const acme, panel = "acme.example.com.", "panel.example.com."
	type tc struct {
		name   string
		key    string
		build  func(m *dns.Msg)
		rcode  int
		reason string   // substring of Reason
		del    []string // records deleted, in presentation form
		add    []string
	}
	cases := []tc{
		{name: "add TXT granted", key: acme, build: func(m *dns.Msg) {
			m.Insert(rrs(t, `_acme-challenge.example.com. 60 IN TXT "token"`))
		}, add: []string{`_acme-challenge.example.com. 60 IN TXT "token"`, `_acme-challenge.example.com. 60 IN TXT "old"`},
			// one TTL per RRset: the old record takes the new TTL
			del: []string{`_acme-challenge.example.com. 120 IN TXT "old"`}},
		{name: "add TXT below the granted name", key: acme, build: func(m *dns.Msg) {
			m.Insert(rrs(t, `x._acme-challenge.example.com. 60 IN TXT "t"`))
		}, add: []string{`x._acme-challenge.example.com. 60 IN TXT "t"`}},
		{name: "type not granted", key: acme, build: func(m *dns.Msg) {
			m.Insert(rrs(t, `_acme-challenge.example.com. 60 IN A 192.0.2.9`))
		}, rcode: dns.RcodeRefused, reason: "not granted A"},
		{name: "name not granted", key: acme, build: func(m *dns.Msg) {
			m.Insert(rrs(t, `www2.example.com. 60 IN TXT "x"`))
		}, rcode: dns.RcodeRefused, reason: "not granted TXT at www2.example.com."},
		{name: "unknown key", key: "other.", build: func(m *dns.Msg) {
			m.Insert(rrs(t, `_acme-challenge.example.com. 60 IN TXT "x"`))
		}, rcode: dns.RcodeRefused},
		{name: "outside the zone", key: panel, build: func(m *dns.Msg) {
			m.Insert(rrs(t, `www.example.net. 60 IN A 192.0.2.9`))
		}, rcode: dns.RcodeNotZone},
		{name: "deny before grant", key: panel, build: func(m *dns.Msg) {
			m.RemoveRRset(rrs(t, `locked.example.com. 0 IN TXT ""`))
		}, rcode: dns.RcodeRefused},
		{name: "ANY grant leaves the apex NS alone", key: panel, build: func(m *dns.Msg) {
			m.Insert(rrs(t, `example.com. 60 IN NS ns2.example.com.`))
		}, rcode: dns.RcodeRefused, reason: "not granted NS"},
		{name: "SOA only when granted by name", key: panel, build: func(m *dns.Msg) {
			m.Insert(rrs(t, "example.com. 3600 IN SOA ns1.example.com. h.example.com. 11 1 1 1 1"))
		}, rcode: dns.RcodeRefused, reason: "not granted SOA"},
		{name: "DNSSEC records are the server's", key: panel, build: func(m *dns.Msg) {
			m.Insert(rrs(t, "example.com. 3600 IN DNSKEY 257 3 13 AAAA"))
		}, rcode: dns.RcodeRefused, reason: "DNSSEC"},
		{name: "delete RRset", key: panel, build: func(m *dns.Msg) {
			m.RemoveRRset(rrs(t, "mail.example.com. 0 IN A 0.0.0.0"))
		}, del: []string{"mail.example.com. 3600 IN A 192.0.2.1", "mail.example.com. 3600 IN A 192.0.2.2"}},
		{name: "delete one RR", key: panel, build: func(m *dns.Msg) {
			m.Remove(rrs(t, "mail.example.com. 0 IN A 192.0.2.2"))
		}, del: []string{"mail.example.com. 3600 IN A 192.0.2.2"}},
		{name: "delete an RR that is not there", key: panel, build: func(m *dns.Msg) {
			m.Remove(rrs(t, "mail.example.com. 0 IN A 192.0.2.99"))
		}},
		{name: "delete all RRsets at a name", key: panel, build: func(m *dns.Msg) {
			m.RemoveName(rrs(t, "mail.example.com. 0 IN A 0.0.0.0"))
		}, del: []string{"mail.example.com. 3600 IN A 192.0.2.1", "mail.example.com. 3600 IN A 192.0.2.2"}},
		{name: "delete all at the apex keeps SOA and NS", key: panel, build: func(m *dns.Msg) {
			m.RemoveName(rrs(t, "example.com. 0 IN A 0.0.0.0"))
		}, del: []string{"example.com. 3600 IN MX 10 mail.example.com."}},
		{name: "CNAME beside other data is ignored", key: panel, build: func(m *dns.Msg) {
			m.Insert(rrs(t, "mail.example.com. 60 IN CNAME www.example.com."))
		}},
		{name: "data beside a CNAME is ignored", key: panel, build: func(m *dns.Msg) {
			m.Insert(rrs(t, "www.example.com. 60 IN A 192.0.2.5"))
		}},
		{name: "CNAME replaces CNAME", key: panel, build: func(m *dns.Msg) {
			m.Insert(rrs(t, "www.example.com. 3600 IN CNAME other.example.com."))
		}, del: []string{"www.example.com. 3600 IN CNAME mail.example.com."}, add: []string{"www.example.com. 3600 IN CNAME other.example.com."}},
		{name: "adding a record already there changes nothing", key: panel, build: func(m *dns.Msg) {
			m.Insert(rrs(t, "mail.example.com. 3600 IN A 192.0.2.1"))
		}},
		{name: "delete then add in one message", key: panel, build: func(m *dns.Msg) {
			m.RemoveRRset(rrs(t, "mail.example.com. 0 IN A 0.0.0.0"))
			m.Insert(rrs(t, "mail.example.com. 300 IN A 192.0.2.7"))
		}, del: []string{"mail.example.com. 3600 IN A 192.0.2.1", "mail.example.com. 3600 IN A 192.0.2.2"},
			add: []string{"mail.example.com. 300 IN A 192.0.2.7"}},
		// Prerequisites, RFC 2136 section 2.4.
		{name: "prereq name in use holds", key: panel, build: func(m *dns.Msg) {
			m.NameUsed(rrs(t, "mail.example.com. 0 IN A 0.0.0.0"))
			m.Insert(rrs(t, "n.example.com. 60 IN A 192.0.2.8"))
		}, add: []string{"n.example.com. 60 IN A 192.0.2.8"}},
		{name: "prereq name in use fails", key: panel, build: func(m *dns.Msg) {
			m.NameUsed(rrs(t, "nothere.example.com. 0 IN A 0.0.0.0"))
		}, rcode: dns.RcodeNameError},
		{name: "prereq name not in use fails", key: panel, build: func(m *dns.Msg) {
			m.NameNotUsed(rrs(t, "mail.example.com. 0 IN A 0.0.0.0"))
		}, rcode: dns.RcodeYXDomain},
		{name: "prereq RRset exists fails", key: panel, build: func(m *dns.Msg) {
			m.RRsetUsed(rrs(t, "mail.example.com. 0 IN AAAA ::"))
		}, rcode: dns.RcodeNXRrset},
		{name: "prereq RRset does not exist fails", key: panel, build: func(m *dns.Msg) {
			m.RRsetNotUsed(rrs(t, "mail.example.com. 0 IN A 0.0.0.0"))
		}, rcode: dns.RcodeYXRrset},
		{name: "prereq RRset value-dependent holds", key: panel, build: func(m *dns.Msg) {
			m.Used(rrs(t, "mail.example.com. 0 IN A 192.0.2.2", "mail.example.com. 0 IN A 192.0.2.1"))
			m.Remove(rrs(t, "mail.example.com. 0 IN A 192.0.2.2"))
		}, del: []string{"mail.example.com. 3600 IN A 192.0.2.2"}},
		{name: "prereq RRset value-dependent fails", key: panel, build: func(m *dns.Msg) {
			m.Used(rrs(t, "mail.example.com. 0 IN A 192.0.2.1"))
		}, rcode: dns.RcodeNXRrset},
		{name: "prereq outside the zone", key: panel, build: func(m *dns.Msg) {
			m.NameUsed(rrs(t, "example.net. 0 IN A 0.0.0.0"))
		}, rcode: dns.RcodeNotZone},
		// Malformed, RFC 2136 sections 3.2 and 3.4.1.
		{name: "prereq with TTL", key: panel, build: func(m *dns.Msg) {
			m.Answer = append(m.Answer, mustRR(t, "mail.example.com. 60 IN A 192.0.2.1"))
		}, rcode: dns.RcodeFormatError},
		{name: "prereq of class ANY with RDATA", key: panel, build: func(m *dns.Msg) {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: "mail.example.com.", Rrtype: dns.TypeA, Class: dns.ClassANY}, A: []byte{192, 0, 2, 1}})
		}, rcode: dns.RcodeFormatError},
		{name: "update of a meta type", key: panel, build: func(m *dns.Msg) {
			m.Ns = append(m.Ns, &dns.ANY{Hdr: dns.RR_Header{Name: "mail.example.com.", Rrtype: dns.TypeANY, Class: dns.ClassINET, Ttl: 60}})
		}, rcode: dns.RcodeFormatError},
		{name: "RRset delete with TTL", key: panel, build: func(m *dns.Msg) {
			m.Ns = append(m.Ns, &dns.A{Hdr: dns.RR_Header{Name: "mail.example.com.", Rrtype: dns.TypeA, Class: dns.ClassANY, Ttl: 60}})
		}, rcode: dns.RcodeFormatError},
		{name: "wrong class", key: panel, build: func(m *dns.Msg) {
			m.Ns = append(m.Ns, mustRR(t, "mail.example.com. 60 CH A 192.0.2.1"))
		}, rcode: dns.RcodeFormatError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := new(dns.Msg)
			m.SetUpdate("example.com.")
			c.build(m)
			res := Apply("example.com.", z, wire(t, m), c.key, p, Limits{RRsetRecords: 100})
			if res.Rcode != c.rcode {
				t.Fatalf("rcode %s (%s), want %s", dns.RcodeToString[res.Rcode], res.Reason, dns.RcodeToString[c.rcode])
			}
			if c.reason != "" && !strings.Contains(res.Reason, c.reason) {
				t.Errorf("reason %q, want it to say %q", res.Reason, c.reason)
			}
			if c.rcode != dns.RcodeSuccess {
				if len(res.Del)+len(res.Add) != 0 {
					t.Errorf("refused update lists changes: %v %v", res.Del, res.Add)
				}
				return
			}
			check := func(what string, got []dns.RR, want []string) {
				var g, w []string
				for _, rr := range got {
					g = append(g, rr.String())
				}
				for _, s := range want {
					w = append(w, mustRR(t, s).String())
				}
				sort.Strings(g)
				sort.Strings(w)
				if !slices.Equal(g, w) {
					t.Errorf("%s:\n got %q\nwant %q", what, g, w)
				}
			}
			check("deleted", res.Del, c.del)
			check("added", res.Add, c.add)
		})
	}
}

func TestApplySOA(t *testing.T) {
	p, err := ParsePolicy("f", "example.com.", []byte(`key k { algorithm hmac-sha256; secret "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgMTIzNA=="; };
grant k name example.com. SOA NS;`))
	if err != nil {
		t.Fatal(err)
	}
	z := records(rrs(t, zoneText...))
	for _, c := range []struct {
		name   string
		soa    string
		change bool
	}{
		{"newer serial", "example.com. 3600 IN SOA ns1.example.com. h.example.com. 11 1 1 1 1", true},
		{"older serial ignored", "example.com. 3600 IN SOA ns1.example.com. h.example.com. 9 1 1 1 1", false},
		{"older by RFC 1982", "example.com. 3600 IN SOA ns1.example.com. h.example.com. 4294967295 1 1 1 1", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := new(dns.Msg)
			m.SetUpdate("example.com.")
			m.Insert(rrs(t, c.soa))
			res := Apply("example.com.", z, wire(t, m), "k.", p, Limits{})
			if res.Rcode != dns.RcodeSuccess || (len(res.Add) > 0) != c.change {
				t.Fatalf("rcode %d %s, added %v", res.Rcode, res.Reason, res.Add)
			}
		})
	}
	t.Run("last apex NS stays", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetUpdate("example.com.")
		m.Remove(rrs(t, "example.com. 0 IN NS ns1.example.com."))
		res := Apply("example.com.", z, wire(t, m), "k.", p, Limits{})
		if res.Rcode != dns.RcodeSuccess || len(res.Del) != 0 {
			t.Fatalf("rcode %d, deleted %v", res.Rcode, res.Del)
		}
	})
	t.Run("SOA RRset never deleted", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetUpdate("example.com.")
		m.RemoveRRset(rrs(t, "example.com. 0 IN SOA ns1.example.com. h.example.com. 0 0 0 0 0"))
		res := Apply("example.com.", z, wire(t, m), "k.", p, Limits{})
		if res.Rcode != dns.RcodeSuccess || len(res.Del) != 0 {
			t.Fatalf("rcode %d, deleted %v", res.Rcode, res.Del)
		}
	})
}

func TestApplyTooLarge(t *testing.T) {
	m := new(dns.Msg)
	m.SetUpdate("example.com.")
	for range MaxUpdateRecords + 1 {
		m.Ns = append(m.Ns, &dns.A{Hdr: dns.RR_Header{Name: "a.example.com.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1}})
	}
	if res := Apply("example.com.", records(nil), m, "k.", nil, Limits{}); res.Rcode != dns.RcodeRefused {
		t.Fatalf("rcode %d", res.Rcode)
	}
}

func TestApplyRRsetBound(t *testing.T) {
	p, _ := ParsePolicy("f", "example.com.", []byte(testPolicy))
	m := new(dns.Msg)
	m.SetUpdate("example.com.")
	for i := range 5000 {
		m.Ns = append(m.Ns, &dns.A{Hdr: dns.RR_Header{Name: "big.example.com.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A: []byte{10, 0, byte(i >> 8), byte(i)}})
	}
	res := Apply("example.com.", records(nil), wire(t, m), "panel.example.com.", p, Limits{RRsetRecords: 100})
	if res.Rcode != dns.RcodeRefused || !strings.Contains(res.Reason, "max_rrset_records") {
		t.Fatalf("rcode %d %s", res.Rcode, res.Reason)
	}
}
