package mxzone

import (
	"context"
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
)

// answerCases are checked against testdata/answers, which the end-to-end test
// also serves with Knot DNS: the expectations here are what Knot answers.
var answerCases = []test.Case{
	{
		Qname: "example.com.", Qtype: dns.TypeMX,
		Answer: []dns.RR{
			test.MX("example.com. 3600 IN MX 10 mail1.example.com."),
			test.MX("example.com. 3600 IN MX 10 mail2.example.com."),
			test.MX("example.com. 3600 IN MX 20 mx1.example.net."),
		},
		Extra: []dns.RR{
			test.A("mail1.example.com. 3600 IN A 192.0.2.10"),
			test.AAAA("mail1.example.com. 3600 IN AAAA 2001:db8::10"),
			test.A("mail2.example.com. 3600 IN A 192.0.2.11"),
			// From another served zone: Knot and NSD leave this out.
			test.A("mx1.example.net. 3600 IN A 192.0.2.25"),
			test.AAAA("mx1.example.net. 3600 IN AAAA 2001:db8:25::1"),
		},
	},
	{
		Qname: "example.org.", Qtype: dns.TypeMX,
		Answer: []dns.RR{
			test.MX("example.org. 3600 IN MX 10 mx1.example.net."),
			test.MX("example.org. 3600 IN MX 20 mx2.example.net."),
		},
		Extra: []dns.RR{
			test.A("mx1.example.net. 3600 IN A 192.0.2.25"),
			test.AAAA("mx1.example.net. 3600 IN AAAA 2001:db8:25::1"),
			test.A("mx2.example.net. 3600 IN A 198.51.100.25"),
		},
	},
	{
		Qname: "parked.example.", Qtype: dns.TypeMX,
		Answer: []dns.RR{test.MX("parked.example. 3600 IN MX 0 .")},
	},
	{
		Qname: "example.com.", Qtype: dns.TypeNS,
		Answer: []dns.RR{
			test.NS("example.com. 3600 IN NS ns1.example.com."),
			test.NS("example.com. 3600 IN NS ns2.example.net."),
		},
		Extra: []dns.RR{
			test.A("ns1.example.com. 3600 IN A 192.0.2.1"),
			test.A("ns2.example.net. 3600 IN A 198.51.100.53"),
		},
	},
	{
		// NODATA carries the SOA with TTL min(SOA TTL, MINIMUM)
		Qname: "www.example.org.", Qtype: dns.TypeMX,
		Ns: []dns.RR{test.SOA("example.org. 3600 IN SOA ns1.example.net. hostmaster.example.org. 1 7200 3600 1209600 3600")},
	},
	{
		Qname: "nope.example.com.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError,
		Ns: []dns.RR{test.SOA("example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 2026112401 7200 3600 1209600 300")},
	},
	{
		// CNAME followed inside the zone
		Qname: "chain.example.com.", Qtype: dns.TypeA,
		Answer: []dns.RR{
			test.CNAME("chain.example.com. 3600 IN CNAME www.example.com."),
			test.A("web.example.com. 3600 IN A 192.0.2.80"), // SortAndCheck sorts the answer
			test.CNAME("www.example.com. 3600 IN CNAME web.example.com."),
		},
	},
	{
		// CNAME then NODATA
		Qname: "www.example.com.", Qtype: dns.TypeMX,
		Answer: []dns.RR{test.CNAME("www.example.com. 3600 IN CNAME web.example.com.")},
		Ns:     []dns.RR{test.SOA("example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 2026112401 7200 3600 1209600 300")},
	},
	{
		// CNAME to a missing name is NXDOMAIN (RFC 6604)
		Qname: "dangling.example.com.", Qtype: dns.TypeA,
		Rcode:  dns.RcodeNameError,
		Answer: []dns.RR{test.CNAME("dangling.example.com. 3600 IN CNAME missing.example.com.")},
		Ns:     []dns.RR{test.SOA("example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 2026112401 7200 3600 1209600 300")},
	},
	{
		// CNAME out of the zone
		Qname: "ext.example.com.", Qtype: dns.TypeA,
		Answer: []dns.RR{test.CNAME("ext.example.com. 3600 IN CNAME www.example.org.")},
	},
	{
		Qname: "www.example.com.", Qtype: dns.TypeCNAME,
		Answer: []dns.RR{test.CNAME("www.example.com. 3600 IN CNAME web.example.com.")},
	},
	{
		// wildcard MX with addresses
		Qname: "host.wild.example.com.", Qtype: dns.TypeMX,
		Answer: []dns.RR{test.MX("host.wild.example.com. 3600 IN MX 10 mail1.example.com.")},
		Extra: []dns.RR{
			test.A("mail1.example.com. 3600 IN A 192.0.2.10"),
			test.AAAA("mail1.example.com. 3600 IN AAAA 2001:db8::10"),
		},
	},
	{
		// wildcard NODATA
		Qname: "host.wild.example.com.", Qtype: dns.TypeAAAA,
		Ns: []dns.RR{test.SOA("example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 2026112401 7200 3600 1209600 300")},
	},
	{
		// an empty non-terminal is NODATA, not the wildcard
		Qname: "b.ent.example.com.", Qtype: dns.TypeTXT,
		Ns: []dns.RR{test.SOA("example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 2026112401 7200 3600 1209600 300")},
	},
	{
		// below an empty non-terminal the wildcard above does not apply
		Qname: "x.b.ent.example.com.", Qtype: dns.TypeTXT,
		Rcode: dns.RcodeNameError,
		Ns:    []dns.RR{test.SOA("example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 2026112401 7200 3600 1209600 300")},
	},
	{
		Qname: "c.ent.example.com.", Qtype: dns.TypeTXT,
		Answer: []dns.RR{test.TXT(`c.ent.example.com. 3600 IN TXT "ent wildcard"`)},
	},
	{
		// referral with glue
		Qname: "host.sub.example.com.", Qtype: dns.TypeA,
		Ns: []dns.RR{
			test.NS("sub.example.com. 3600 IN NS ns1.sub.example.com."),
			test.NS("sub.example.com. 3600 IN NS ns2.example.net."),
		},
		Extra: []dns.RR{test.A("ns1.sub.example.com. 3600 IN A 192.0.2.53")},
	},
	{
		// DS at a cut is the parent's
		Qname: "sub.example.com.", Qtype: dns.TypeDS,
		Ns: []dns.RR{test.SOA("example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 2026112401 7200 3600 1209600 300")},
	},
}

func TestServeDNSAnswers(t *testing.T) {
	m := newTestPlugin(t, "testdata/answers", DefaultPolicy())
	for _, tc := range answerCases {
		t.Run(tc.Qname+" "+dns.TypeToString[tc.Qtype], func(t *testing.T) {
			rec := dnstest.NewRecorder(&test.ResponseWriter{})
			if _, err := m.ServeDNS(context.Background(), rec, tc.Msg()); err != nil {
				t.Fatal(err)
			}
			resp := rec.Msg
			if err := test.SortAndCheck(resp, tc); err != nil {
				t.Fatalf("%v\n%v", err, resp)
			}
			wantAA := len(tc.Ns) == 0 || tc.Ns[0].Header().Rrtype != dns.TypeNS
			if resp.Authoritative != wantAA {
				t.Errorf("AA = %v, want %v", resp.Authoritative, wantAA)
			}
		})
	}
}

func TestServeDNSRcodes(t *testing.T) {
	dir := writeZones(t, map[string]string{
		"good.example.zone":   soaZone("good.example."),
		"broken.example.zone": "this is not a zone file\n",
	})
	m := newTestPlugin(t, dir, DefaultPolicy())
	m.Next = nil
	tests := []struct {
		name  string
		qname string
		rcode int
	}{
		{"outside every zone is refused", "example.net.", dns.RcodeRefused},
		{"a zone that never loaded is SERVFAIL", "www.broken.example.", dns.RcodeServerFailure},
		{"case does not matter", "NS1.Good.Example.", dns.RcodeSuccess},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, rcode := query(t, m, tc.qname, dns.TypeA)
			if rcode != tc.rcode {
				t.Fatalf("rcode = %s, want %s", dns.RcodeToString[rcode], dns.RcodeToString[tc.rcode])
			}
			if tc.rcode == dns.RcodeSuccess && (msg.Question[0].Name != tc.qname || len(msg.Answer) != 1) {
				t.Fatalf("question not echoed as sent or no answer:\n%v", msg)
			}
		})
	}
}

// TestFallthrough: with fallthrough, an NXDOMAIN of a served zone and a
// name outside every served zone go to the next plugin, whose answer is the
// reply; without it, or for other zones, the NXDOMAIN is answered here.
// Names that exist are answered here either way.
func TestFallthrough(t *testing.T) {
	dir := writeZones(t, map[string]string{"good.example.zone": soaZone("good.example.")})
	const nextText = "from the next plugin"
	for _, tc := range []struct {
		name      string
		fall      []string // fallthrough's zones; nil: no fallthrough
		qname     string
		wantNext  bool
		wantRcode int
	}{
		{"nxdomain, fallthrough", []string{}, "nope.good.example.", true, dns.RcodeSuccess},
		{"outside, fallthrough", []string{}, "example.net.", true, dns.RcodeSuccess},
		{"nxdomain, no fallthrough", nil, "nope.good.example.", false, dns.RcodeNameError},
		{"nxdomain, fallthrough for another zone", []string{"other.example."}, "nope.good.example.", false, dns.RcodeNameError},
		{"nxdomain, fallthrough for this zone", []string{"good.example."}, "nope.good.example.", true, dns.RcodeSuccess},
		{"existing name, fallthrough", []string{}, "ns1.good.example.", false, dns.RcodeSuccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestPlugin(t, dir, DefaultPolicy())
			called := false
			m.Next = test.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
				called = true
				reply := new(dns.Msg)
				reply.SetReply(r)
				reply.Answer = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{nextText}}}
				w.WriteMsg(reply)
				return dns.RcodeSuccess, nil
			})
			if tc.fall != nil {
				m.Fall.SetZonesFromArgs(tc.fall)
			}
			msg, rcode := query(t, m, tc.qname, dns.TypeA)
			if called != tc.wantNext || rcode != tc.wantRcode {
				t.Fatalf("next plugin called %v (want %v), rcode %s (want %s)", called, tc.wantNext, dns.RcodeToString[rcode], dns.RcodeToString[tc.wantRcode])
			}
			fromNext := msg != nil && len(msg.Answer) == 1 && strings.Contains(msg.Answer[0].String(), nextText)
			if fromNext != tc.wantNext {
				t.Errorf("reply from the next plugin %v, want %v: %v", fromNext, tc.wantNext, msg)
			}
			if !tc.wantNext && (msg == nil || !msg.Authoritative) {
				t.Errorf("answered here without AA: %v", msg)
			}
		})
	}
}

func TestTruncation(t *testing.T) {
	var lines []string
	for i := range 40 {
		lines = append(lines, "@ MX 10 mail"+string(rune('a'+i%26))+string(rune('a'+i/26)))
		lines = append(lines, "mail"+string(rune('a'+i%26))+string(rune('a'+i/26))+" A 192.0.2.1")
	}
	dir := writeZones(t, map[string]string{"big.example.zone": soaZone("big.example.", lines...)})
	m := newTestPlugin(t, dir, DefaultPolicy())

	t.Run("additional dropped first, without TC", func(t *testing.T) {
		req := new(dns.Msg)
		req.SetQuestion("big.example.", dns.TypeMX)
		req.SetEdns0(1232, false)
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		if _, err := m.ServeDNS(context.Background(), rec, req); err != nil {
			t.Fatal(err)
		}
		if rec.Msg.Truncated || len(rec.Msg.Answer) != 40 || len(rec.Msg.Extra) >= 41 {
			t.Fatalf("TC=%v answer=%d extra=%d", rec.Msg.Truncated, len(rec.Msg.Answer), len(rec.Msg.Extra))
		}
		if rec.Msg.Len() > 1232 {
			t.Fatalf("reply of %d bytes exceeds the 1232 the client offered", rec.Msg.Len())
		}
	})
}

// TestRepliesDoNotReachTheZone: whatever a plugin after mxzone does to a
// reply's records (cache lowers TTLs, rewrite renames) never reaches the
// zone data: each reply's records are its own.
func TestRepliesDoNotReachTheZone(t *testing.T) {
	m := newTestPlugin(t, "testdata/answers", DefaultPolicy())
	first, _ := query(t, m, "example.org.", dns.TypeMX)
	first.Answer[0].Header().Ttl = 30 // what cache does
	first.Answer[0].(*dns.MX).Mx = "rewritten.example."
	for _, rr := range first.Extra {
		if a, ok := rr.(*dns.A); ok {
			a.A[0] = 10
		}
	}
	second, _ := query(t, m, "example.org.", dns.TypeMX)
	if first.Answer[0] == second.Answer[0] || second.Answer[0].Header().Ttl != 3600 ||
		second.Answer[0].(*dns.MX).Mx == "rewritten.example." {
		t.Fatalf("the reply's records are the zone's: %v", second.Answer[0])
	}
	for _, rr := range second.Extra {
		if a, ok := rr.(*dns.A); ok && a.A[0] == 10 {
			t.Fatalf("an address changed in a reply changed the zone: %v", a)
		}
	}
}

// FuzzServeDNS feeds arbitrary messages to the handler over the answer
// zones: whatever a client sends, the handler answers or declines, and never
// panics or writes a reply that does not pack.
func FuzzServeDNS(f *testing.F) {
	for _, tc := range answerCases {
		if b, err := tc.Msg().Pack(); err == nil {
			f.Add(b)
		}
	}
	m := newTestPlugin(f, "testdata/answers", DefaultPolicy())
	f.Fuzz(func(t *testing.T, data []byte) {
		req := new(dns.Msg)
		if err := req.Unpack(data); err != nil {
			return
		}
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		if _, err := m.ServeDNS(context.Background(), rec, req); err != nil {
			return
		}
		if rec.Msg != nil {
			if _, err := rec.Msg.Pack(); err != nil {
				t.Fatalf("reply does not pack: %v\n%v", err, rec.Msg)
			}
		}
	})
}
