package mxzone

import (
	"context"
	"fmt"
	"testing"

	"github.com/coredns-mx/coredns-mx/internal/zonegen"
	"github.com/coredns-mx/coredns-mx/internal/zonetest"

	"github.com/miekg/dns"
)

// FuzzSignedAnswer: whatever the question, the answer of a signed zone to
// a query with DO set goes out (it packs), and every signature in it
// verifies with its zone's key over an RRset sent with it.
func FuzzSignedAnswer(f *testing.F) {
	for _, name := range []string{"customer.test.", "www.customer.test.", "x.wild.customer.test.", "nope.customer.test.",
		"a.b.c.customer.test.", "x.sub.customer.test.", "a.old.customer.test.", "mx1.provider.test.", "\\000.customer.test.",
		"*.wild.customer.test.", "Z.Y.X.CUSTOMER.TEST."} {
		for _, qt := range []uint16{dns.TypeA, dns.TypeMX, dns.TypeDS, dns.TypeNSEC, dns.TypeRRSIG, dns.TypeANY, dns.TypeTXT} {
			f.Add(name, qt, false)
			f.Add(name, qt, true)
		}
	}
	ms := map[bool]*MXZone{}
	keys := map[string]*dns.DNSKEY{}
	for _, nsec3 := range []bool{false, true} {
		ms[nsec3] = newSignedPlugin(f, zonetest.Dir(f, signedZones), f.TempDir(), nsec3)
	}
	f.Fuzz(func(t *testing.T, name string, qtype uint16, nsec3 bool) {
		if _, ok := dns.IsDomainName(name); !ok || !dns.IsFqdn(name) {
			return
		}
		m := ms[nsec3]
		for _, origin := range []string{"customer.test.", "provider.test."} {
			keys[origin] = queryDO(t, m, origin, dns.TypeDNSKEY, false).Answer[0].(*dns.DNSKEY)
		}
		resp := queryDO(t, m, name, qtype, true)
		if resp == nil {
			return // refused or not ours: nothing written
		}
		if _, err := resp.Pack(); err != nil {
			t.Fatalf("%s %d: the reply does not pack: %v", name, qtype, err)
		}
		if qtype != dns.TypeRRSIG { // the answer to that is signatures alone
			checkSignatures(t, name, resp, keys)
		}
	})
}

// packer is a ResponseWriter that packs the reply, as the server does,
// and throws it away.
type packer struct{ discard }

func (p *packer) WriteMsg(m *dns.Msg) error {
	_, err := m.Pack()
	return err
}

// BenchmarkServeDNSSEC is the answer of a signed zone, packed, with DO set
// and without, next to the same zone unsigned.
func BenchmarkServeDNSSEC(b *testing.B) {
	dir := b.TempDir()
	if err := zonegen.Write(dir, 1); err != nil {
		b.Fatal(err)
	}
	signed := newSignedPlugin(b, dir, b.TempDir(), false)
	plain := newBenchPlugin(b, dir)
	for _, q := range benchQueries {
		qname := fmt.Sprintf(q.qname, 0)
		for _, v := range []struct {
			name string
			m    *MXZone
			do   bool
		}{{"unsigned", plain, false}, {"signed", signed, false}, {"signed+DO", signed, true}} {
			b.Run(q.name+"/"+v.name, func(b *testing.B) {
				req := new(dns.Msg)
				req.SetQuestion(qname, q.qtype)
				req.SetEdns0(1232, v.do)
				w := &packer{}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.m.ServeDNS(context.Background(), w, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
