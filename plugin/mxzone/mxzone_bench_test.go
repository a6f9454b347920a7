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
	"github.com/coredns-mx/coredns-mx/internal/zonetest"

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

// largeApex serves a zone whose apex holds n MX records, each naming a host
// of the zone with an address, with the RRset limit raised to fit.
func largeApex(b testing.TB, n int) *MXZone {
	var lines []string
	for i := range n {
		h := fmt.Sprintf("h%d", i)
		lines = append(lines, fmt.Sprintf("@ MX %d %s", i%65536, h), h+" A 192.0.2.1")
	}
	dir := b.TempDir()
	zonetest.WriteFile(b, dir, "big.example.zone", zonetest.SOA("big.example.", lines...))
	limits := DefaultLimits()
	limits.RRsetRecords = n
	m := &MXZone{Origins: []string{"."}, server: "dns://bench",
		loader: &loader{dir: dir, origins: []string{"."}, policy: DefaultPolicy(), limits: limits}}
	if err := m.reloadWith(nil, scanAll); err != nil {
		b.Fatal(err)
	}
	if e := m.gen.Load().zones["big.example."]; e == nil || e.status != outcomeServed {
		b.Fatalf("zone not served: %v", e)
	}
	return m
}

// BenchmarkLargeRRset is an MX query at an apex of 50,000 MX records over
// UDP and TCP: the work must be bounded by what fits in the reply.
func BenchmarkLargeRRset(b *testing.B) {
	m := largeApex(b, 50000)
	for _, tcp := range []bool{false, true} {
		b.Run(map[bool]string{false: "udp", true: "tcp"}[tcp], func(b *testing.B) {
			req := new(dns.Msg)
			req.SetQuestion("big.example.", dns.TypeMX)
			req.SetEdns0(1232, false)
			w := &discard{ResponseWriter: test.ResponseWriter{TCP: tcp}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.ServeDNS(context.Background(), w, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
