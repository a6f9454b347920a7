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

	"github.com/coredns-mx/coredns-mx/internal/zonegen"

	"github.com/miekg/dns"
)

// benchQueries are the handler benchmarks' questions.
var benchQueries = []struct {
	name  string
	qname string
	qtype uint16
}{
	{"mx", "customer%d.example.", dns.TypeMX},
	{"nxdomain", "nope.customer%d.example.", dns.TypeA},
	{"nodata", "www.customer%d.example.", dns.TypeMX},
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
		dir := b.TempDir()
		if err := zonegen.Write(dir, zones); err != nil {
			b.Fatal(err)
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
		origin := zonegen.Origin(0)
		z, err := file.Parse(strings.NewReader(zonegen.Zone(origin)), origin, "bench", 0)
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
