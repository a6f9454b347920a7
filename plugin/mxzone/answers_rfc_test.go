package mxzone

import (
	"testing"

	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
)

// TestAnswersRFC: answers the RFCs (and Knot, BIND, NSD) give that this
// server got wrong (issue 11), each named after its section.
func TestAnswersRFC(t *testing.T) {
	dir := writeZones(t, map[string]string{
		"parent.example.zone": soaZone("parent.example.",
			"a CNAME b", "b CNAME c", "c CNAME a", // a loop
			"alias CNAME ns1",
			"alias NSEC alias2.parent.example. CNAME RRSIG NSEC",
			"child NS ns.child",
			"ns.child A 192.0.2.77",
			"child DS 12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE5A1D8D86B9F3C7B4E0A2E8C1",
			"svc HTTPS 1 web alpn=h2",
			"svc2 SVCB 1 . port=8443",
			"svc2 A 192.0.2.80",
			"web A 192.0.2.81",
			"0p9mhaveqvm6t7vbl5lop2u3t2rp3tom NSEC3 1 0 0 - 2t7b4g4vsa5smi47k61mv5bv1a22bojr NS SOA RRSIG DNSKEY NSEC3PARAM",
		),
		"child.parent.example.zone": soaZone("child.parent.example.", "www A 192.0.2.1"),
	})
	m := newTestPlugin(t, dir, DefaultPolicy())
	cases := []test.Case{
		{ // RFC 2181 §5 (each record once) and §10.1: a CNAME loop is answered once round, no record twice.
			Qname: "a.parent.example.", Qtype: dns.TypeA,
			Answer: []dns.RR{
				test.CNAME("a.parent.example. 3600 IN CNAME b.parent.example."),
				test.CNAME("b.parent.example. 3600 IN CNAME c.parent.example."),
				test.CNAME("c.parent.example. 3600 IN CNAME a.parent.example."),
			},
		},
		{ // RFC 4035 §2.5: the NSEC at a CNAME's name answers for itself.
			Qname: "alias.parent.example.", Qtype: dns.TypeNSEC,
			Answer: []dns.RR{test.NSEC("alias.parent.example. 3600 IN NSEC alias2.parent.example. CNAME RRSIG NSEC")},
		},
		{ // ... and any other type follows the CNAME.
			Qname: "alias.parent.example.", Qtype: dns.TypeA,
			Answer: []dns.RR{
				test.CNAME("alias.parent.example. 3600 IN CNAME ns1.parent.example."),
				test.A("ns1.parent.example. 3600 IN A 192.0.2.53"),
			},
		},
		{ // RFC 4035 §3.1.4.1: DS comes from the parent side of the cut, also when the child is served here.
			Qname: "child.parent.example.", Qtype: dns.TypeDS,
			Answer: []dns.RR{test.DS("child.parent.example. 3600 IN DS 12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE5A1D8D86B9F3C7B4E0A2E8C1")},
		},
		{ // Any other type at the child's apex is the child's.
			Qname: "child.parent.example.", Qtype: dns.TypeSOA,
			Answer: []dns.RR{test.SOA("child.parent.example. 3600 IN SOA ns1.child.parent.example. hostmaster.child.parent.example. 1 7200 3600 1209600 300")},
		},
	}
	// RFC 5155 section 7.2.8: the owner of an NSEC3 record is not a name of the zone.
	for _, qtype := range []uint16{dns.TypeA, dns.TypeNSEC3} {
		if msg, _ := query(t, m, "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.parent.example.", qtype); msg.Rcode != dns.RcodeNameError {
			t.Errorf("NSEC3 owner, %s: rcode %s, want NXDOMAIN", dns.TypeToString[qtype], dns.RcodeToString[msg.Rcode])
		}
	}
	// RFC 9460 section 4.1: the addresses of an SVCB or HTTPS target; "." names the owner itself, and Knot adds
	// nothing for it.
	for name, addr := range map[string]string{"svc.parent.example.": "192.0.2.81", "svc2.parent.example.": ""} {
		qtype := dns.TypeHTTPS
		if name == "svc2.parent.example." {
			qtype = dns.TypeSVCB
		}
		msg, _ := query(t, m, name, qtype)
		if len(msg.Answer) != 1 || addr == "" && len(msg.Extra) != 0 ||
			addr != "" && (len(msg.Extra) != 1 || msg.Extra[0].(*dns.A).A.String() != addr) {
			t.Errorf("%s %s: additional %v, want %q", name, dns.TypeToString[qtype], msg.Extra, addr)
		}
	}
	for _, tc := range cases {
		t.Run(dns.TypeToString[tc.Qtype]+" "+tc.Qname, func(t *testing.T) {
			msg, _ := query(t, m, tc.Qname, tc.Qtype)
			if err := test.Section(tc, test.Answer, msg.Answer); err != nil {
				t.Fatalf("%v\n%v", err, msg)
			}
			if !msg.Authoritative || msg.Rcode != dns.RcodeSuccess {
				t.Fatalf("AA %v rcode %s", msg.Authoritative, dns.RcodeToString[msg.Rcode])
			}
		})
	}
}

// TestNoTTLServedWithSOAMinimum: a BIND-style file without $TTL is served,
// its records with the SOA MINIMUM (RFC 2308 section 4), and a warning names
// the line (it was served with TTL 0, or refused).
func TestNoTTLServedWithSOAMinimum(t *testing.T) {
	dir := writeZones(t, map[string]string{"old.example.zone": "@ IN SOA ns1 host 1 7200 3600 1209600 300\n" +
		"@ IN NS ns1\nns1 IN A 192.0.2.53\nwww A 192.0.2.1\n"})
	m := newTestPlugin(t, dir, DefaultPolicy())
	e := m.gen.Load().zones["old.example."]
	if e.status != outcomeServed || len(e.findings) != 1 || e.findings[0].Severity != SeverityWarn || e.findings[0].Line != 1 {
		t.Fatalf("status %s, findings %v: want served with one warning at line 1", e.status, e.findings)
	}
	msg, _ := query(t, m, "www.old.example.", dns.TypeA)
	if len(msg.Answer) != 1 || msg.Answer[0].Header().Ttl != 300 {
		t.Fatalf("answer %v: want TTL 300", msg.Answer)
	}
}

// TestEscapedOwnerNames: owner names are matched as the names they are on
// the wire (RFC 1035 section 5.1, RFC 4343), however the file escapes them.
func TestEscapedOwnerNames(t *testing.T) {
	dir := writeZones(t, map[string]string{"esc.example.zone": soaZone("esc.example.",
		`has\046dot A 192.0.2.2`, `\065bc A 192.0.2.3`, `sp\032ace A 192.0.2.4`)})
	m := newTestPlugin(t, dir, DefaultPolicy())
	for wire, want := range map[string]string{
		"has\\.dot.esc.example.": "192.0.2.2", // a dot inside the first label
		"ABC.esc.example.":       "192.0.2.3",
		"sp\\ ace.esc.example.":  "192.0.2.4",
	} {
		// The question as the server gets it: off the wire.
		req := new(dns.Msg)
		req.SetQuestion(wire, dns.TypeA)
		packed, err := req.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if err := req.Unpack(packed); err != nil {
			t.Fatal(err)
		}
		msg, _ := query(t, m, req.Question[0].Name, dns.TypeA)
		if len(msg.Answer) != 1 || msg.Answer[0].(*dns.A).A.String() != want {
			t.Errorf("%s: %v, want %s", req.Question[0].Name, msg, want)
		}
	}
}
