package mxzone

import (
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
)

// TestDNAME: RFC 6672 section 3.2: a name below a DNAME is answered with the
// DNAME, a CNAME made from it (with the DNAME's TTL) and, when the new name
// is in the same zone, its data; a name that would grow too long is
// YXDOMAIN; the DNAME's own name is answered as it is.
func TestDNAME(t *testing.T) {
	dir := writeZones(t, map[string]string{"example.com.zone": soaZone("example.com.",
		"out 300 DNAME target.example.net.",
		"in 600 DNAME sub.example.com.",
		"www.sub A 192.0.2.1",
		"mail.sub A 192.0.2.25",
		"long DNAME "+strings.Repeat("a123456789.", 22)+"example.com.",
	)})
	m := newTestPlugin(t, dir, DefaultPolicy())
	cases := []test.Case{
		{Qname: "foo.out.example.com.", Qtype: dns.TypeA, Answer: []dns.RR{
			test.DNAME("out.example.com. 300 IN DNAME target.example.net."),
			test.CNAME("foo.out.example.com. 300 IN CNAME foo.target.example.net."),
		}},
		{Qname: "www.in.example.com.", Qtype: dns.TypeA, Answer: []dns.RR{
			test.DNAME("in.example.com. 600 IN DNAME sub.example.com."),
			test.CNAME("www.in.example.com. 600 IN CNAME www.sub.example.com."),
			test.A("www.sub.example.com. 3600 IN A 192.0.2.1"),
		}},
		{Qname: "www.in.example.com.", Qtype: dns.TypeCNAME, Answer: []dns.RR{ // the CNAME made answers a CNAME question
			test.DNAME("in.example.com. 600 IN DNAME sub.example.com."),
			test.CNAME("www.in.example.com. 600 IN CNAME www.sub.example.com."),
		}},
		{Qname: "out.example.com.", Qtype: dns.TypeDNAME, Answer: []dns.RR{
			test.DNAME("out.example.com. 300 IN DNAME target.example.net."),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.Qname, func(t *testing.T) {
			msg, _ := query(t, m, tc.Qname, tc.Qtype)
			if err := test.Section(tc, test.Answer, msg.Answer); err != nil || msg.Rcode != dns.RcodeSuccess {
				t.Fatalf("%v\n%v", err, msg)
			}
		})
	}
	long := strings.Repeat("b123456789.", 4) + "long.example.com."
	if msg, _ := query(t, m, long, dns.TypeA); msg.Rcode != dns.RcodeYXDomain {
		t.Fatalf("a name too long once redirected: %s, want YXDOMAIN", dns.RcodeToString[msg.Rcode])
	}
}

// TestDNAMEAtLoad: RFC 6672 section 2.4, as Knot: one DNAME at a name, and
// no data below one; and an MX target below a DNAME is judged at the name
// the DNAME makes of it.
func TestDNAMEAtLoad(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string // in a failing finding; "": served
	}{
		{"two DNAMEs at one name", []string{"d DNAME a.example.", "d DNAME b.example."}, "second DNAME at the same name"},
		{"data below a DNAME", []string{"d DNAME a.example.", "x.d A 192.0.2.1"}, "name below the DNAME at d.customer.example."},
		{"MX through a DNAME to a host", []string{"@ MX 10 mail.d", "d DNAME sub.customer.example.", "mail.sub A 192.0.2.25"}, ""},
		{"MX through a DNAME to nothing", []string{"@ MX 10 nohost.d", "d DNAME sub.customer.example.", "mail.sub A 192.0.2.25"},
			"exchange nohost.sub.customer.example. does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := loadCustomer(t, tc.lines...)
			e := m.gen.Load().zones["customer.example."]
			var text []string
			for _, f := range e.findings {
				if f.Severity == SeverityFail {
					text = append(text, f.String())
				}
			}
			all := strings.Join(text, "\n")
			if tc.want == "" && e.status != outcomeServed || tc.want != "" && !strings.Contains(all, tc.want) {
				t.Fatalf("status %s, failing findings:\n%s\nwant %q", e.status, all, tc.want)
			}
		})
	}
}
