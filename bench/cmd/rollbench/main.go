// Command rollbench measures one rollover step for many zones: it asks a
// CSK rollover of each of -n zones (customer0.example. ...) of a running
// coredns-mx at once, as coredns-mx dnssec roll would, and measures, one
// query at a time, the DNS MX latency quiet and until every zone publishes
// the new DNSKEY RRset (two keys), and the time that took.
//
//	rollbench -dns 127.0.0.1:1053 -keys STATE/keys -n 10000
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/coredns-mx/coredns-mx/bench/internal/lat"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/rollover"

	"github.com/miekg/dns"
)

func main() {
	dnsAddr := flag.String("dns", "127.0.0.1:1053", "the DNS server")
	keys := flag.String("keys", "", "the server's key store (STATE/keys)")
	n := flag.Int("n", 10000, "zones")
	flag.Parse()

	// The requests are made aside, then moved in at once: the step is what
	// is measured, not the writing of ten thousand requests.
	aside := filepath.Join(filepath.Dir(*keys), "requests-aside")
	for i := range *n {
		if err := mxzone.RequestKeys(aside, fmt.Sprintf("customer%d.example.", i), rollover.Request{Kind: rollover.RollCSK}); err != nil {
			fail(err)
		}
	}
	quiet := measure(*dnsAddr, *n, 2*time.Second, nil)
	var done atomic.Bool
	start := time.Now()
	var took time.Duration
	go func() {
		dir := filepath.Join(*keys, "requests")
		os.MkdirAll(dir, 0o700)
		files, _ := os.ReadDir(filepath.Join(aside, "requests"))
		for _, f := range files {
			os.Rename(filepath.Join(aside, "requests", f.Name()), filepath.Join(dir, f.Name()))
		}
		waitAll(*dnsAddr, *n)
		took = time.Since(start)
		done.Store(true)
	}()
	busy := measure(*dnsAddr, *n, 0, &done)
	fmt.Printf("DNS MX latency, quiet:               %s\n", quiet)
	fmt.Printf("DNS MX latency, during the step:     %s\n", busy)
	fmt.Printf("step for %d zones (requests moved in until every zone has the new DNSKEY RRset): %v\n", *n, took.Round(time.Millisecond))
}

// waitAll waits until each zone's DNSKEY RRset holds two keys, asking
// each zone not yet there in turn over one socket.
func waitAll(addr string, n int) {
	c := &dns.Client{Timeout: time.Second}
	conn, err := c.Dial(addr)
	if err != nil {
		fail(err)
	}
	defer func() { conn.Close() }()
	left := make([]int, n)
	for i := range left {
		left[i] = i
	}
	for len(left) > 0 {
		left = slices.DeleteFunc(left, func(i int) bool {
			m := new(dns.Msg)
			m.SetQuestion(fmt.Sprintf("customer%d.example.", i), dns.TypeDNSKEY)
			m.SetEdns0(4096, false)
			resp, _, err := c.ExchangeWithConn(m, conn)
			if err != nil {
				// A lost reply: a new socket, so a late one is not taken
				// for the next question's.
				conn.Close()
				if conn, err = c.Dial(addr); err != nil {
					fail(err)
				}
				return false
			}
			return len(resp.Answer) == 2
		})
		fmt.Fprintf(os.Stderr, "%s: %d zones without the new DNSKEY RRset\n", time.Now().Format("15:04:05.000"), len(left))
		if len(left) > 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// measure asks MX of random zones one query at a time, for d or until
// stop holds.
func measure(addr string, n int, d time.Duration, stop *atomic.Bool) string {
	c := &dns.Client{Timeout: time.Second}
	var lats []time.Duration
	lost := 0
	end := time.Now().Add(d)
	for stop != nil && !stop.Load() || stop == nil && time.Now().Before(end) {
		m := new(dns.Msg)
		m.SetQuestion(fmt.Sprintf("customer%d.example.", rand.IntN(n)), dns.TypeMX)
		_, rtt, err := c.Exchange(m, addr)
		if err != nil {
			lost++
			continue
		}
		lats = append(lats, rtt)
	}
	return lat.Summary(lats, lost)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rollbench:", err)
	os.Exit(1)
}
