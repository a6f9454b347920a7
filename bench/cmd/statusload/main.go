// Command statusload measures what the status API costs DNS: it sends MX
// queries one at a time over UDP and reports their latency percentiles,
// first alone, then while -n status API requests are made -c at a time.
//
//	statusload -dns 127.0.0.1:1053 -status http://127.0.0.1:8053 -zone customer1.example. [-n 400] [-c 16]
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns-mx/coredns-mx/bench/internal/lat"

	"github.com/miekg/dns"
)

func main() {
	dnsAddr := flag.String("dns", "127.0.0.1:1053", "the DNS server")
	status := flag.String("status", "http://127.0.0.1:8053", "the status API")
	zone := flag.String("zone", "customer1.example.", "the name asked for MX")
	n := flag.Int("n", 400, "status API requests")
	c := flag.Int("c", 16, "status API requests at a time")
	flag.Parse()

	quiet := measure(*dnsAddr, *zone, 2*time.Second, nil)
	var done atomic.Bool
	var fetched, failed atomic.Int64
	var bytes atomic.Int64
	go func() {
		var wg sync.WaitGroup
		next := atomic.Int64{}
		paths := []string{"/zones", "/", "/zones?limit=1000", "/zones/" + *zone, "/zone?name=" + *zone}
		for range *c {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1); i <= int64(*n); i = next.Add(1) {
					resp, err := http.Get(*status + paths[i%int64(len(paths))])
					if err != nil {
						failed.Add(1)
						continue
					}
					b, _ := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					bytes.Add(b)
					if resp.StatusCode != http.StatusOK {
						failed.Add(1)
						continue
					}
					fetched.Add(1)
				}
			}()
		}
		wg.Wait()
		done.Store(true)
	}()
	busy := measure(*dnsAddr, *zone, 0, &done)
	fmt.Printf("DNS MX latency, quiet:               %s\n", quiet)
	fmt.Printf("DNS MX latency, %d status requests %d at a time: %s\n", *n, *c, busy)
	fmt.Printf("status requests: %d ok, %d failed or refused, %d bytes\n", fetched.Load(), failed.Load(), bytes.Load())
	if failed.Load() > 0 {
		os.Exit(1)
	}
}

// measure asks zone MX one query at a time, for d or until stop holds.
func measure(addr, zone string, d time.Duration, stop *atomic.Bool) string {
	c := &dns.Client{Timeout: time.Second}
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeMX)
	var lats []time.Duration
	lost := 0
	end := time.Now().Add(d)
	for stop != nil && !stop.Load() || stop == nil && time.Now().Before(end) {
		_, rtt, err := c.Exchange(m, addr)
		if err != nil {
			lost++
			continue
		}
		lats = append(lats, rtt)
	}
	return lat.Summary(lats, lost)
}
