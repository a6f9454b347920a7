package mxzone

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/file"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
)

// benchZone is the customer zone of the benchmarks: about 12 records, the
// shape of a typical hosted domain.
func benchZone(origin string) string {
	return fmt.Sprintf(`$TTL 3600
@ SOA ns1.provider.example. hostmaster.%[1]s 1 7200 3600 1209600 300
@ NS ns1.provider.example.
@ NS ns2.provider.example.
@ MX 10 mx1
@ MX 20 mx2
mx1 A 192.0.2.25
mx1 AAAA 2001:db8::25
mx2 A 198.51.100.25
mx2 AAAA 2001:db8:1::25
www A 192.0.2.80
@ TXT "v=spf1 mx -all"
_dmarc TXT "v=DMARC1; p=reject"
`, origin)
}

// benchQueries are the handler benchmarks' questions.
var benchQueries = []struct {
	name  string
	qname string
	qtype uint16
}{
	{"mx", "bench%d.example.", dns.TypeMX},
	{"nxdomain", "nope.bench%d.example.", dns.TypeA},
	{"nodata", "www.bench%d.example.", dns.TypeMX},
}

// discard is a ResponseWriter that throws the reply away: the benchmark
// measures the handler, not the packing that the server does after it.
// Its addresses are fixed, as a real server's are.
type discard struct{ test.ResponseWriter }

var benchClient = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40212}

func (d *discard) WriteMsg(*dns.Msg) error { return nil }
func (d *discard) RemoteAddr() net.Addr    { return benchClient }
func (d *discard) LocalAddr() net.Addr     { return benchClient }

func benchServe(b *testing.B, h plugin.Handler, qname string, qtype uint16) {
	req := new(dns.Msg)
	req.SetQuestion(qname, qtype)
	w := &discard{}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := h.ServeDNS(ctx, w, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServeDNS compares mxzone with the stock file plugin on the same
// zone, and mxzone with many zones loaded: the cost must not grow with them.
func BenchmarkServeDNS(b *testing.B) {
	for _, zones := range []int{1, 10000} {
		files := map[string]string{}
		for i := range zones {
			origin := fmt.Sprintf("bench%d.example.", i)
			files[origin+"zone"] = benchZone(origin)
		}
		dir := b.TempDir()
		for name, text := range files {
			writeFileB(b, dir, name, text)
		}
		m := newBenchPlugin(b, dir)
		last := zones - 1
		for _, q := range benchQueries {
			b.Run(fmt.Sprintf("mxzone/zones=%d/%s", zones, q.name), func(b *testing.B) {
				benchServe(b, m, fmt.Sprintf(q.qname, last), q.qtype)
			})
		}
		if zones != 1 {
			continue
		}
		origin := "bench0.example."
		z, err := file.Parse(strings.NewReader(benchZone(origin)), origin, "bench", 0)
		if err != nil {
			b.Fatal(err)
		}
		f := file.File{Zones: file.Zones{Z: map[string]*file.Zone{origin: z}, Names: []string{origin}}}
		for _, q := range benchQueries {
			b.Run(fmt.Sprintf("file/zones=1/%s", q.name), func(b *testing.B) {
				benchServe(b, f, fmt.Sprintf(q.qname, 0), q.qtype)
			})
		}
	}
}
