// Command updatebench measures RFC 2136 UPDATE against a DNS server
// (coredns-mx or Knot DNS, driven by bench/update.sh):
//
//	updatebench gen -dir D -policy P -zones N -records R -secret S
//	    writes N zones customerI.example. of R records each, and for each a
//	    policy file granting the key "bench." TXT at _acme-challenge
//	updatebench seq -server ADDR -zone Z -n COUNT -secret S
//	    COUNT sequential updates (an add, then a delete, of one TXT): p50 and
//	    p99 of the time from sending to the acknowledgement
//	updatebench storm -server ADDR -zones N -pairs P -clients C -secret S -seconds T
//	    T seconds of MX queries from 4 clients (idle), then P ACME-style add
//	    and delete pairs over N zones from C clients at once with the same
//	    queries beside them: pairs per second, queries per second and p99 in
//	    both phases; lost (an acknowledged add not answered right after) and
//	    half-applied (a TXT left at the end, or an update not acknowledged)
//
// Every figure is one line "name value" on standard output.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

const keyName = "bench."

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: updatebench gen|seq|storm [flags]")
		os.Exit(2)
	}
	fl := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fl.String("dir", "", "zone directory (gen)")
	policy := fl.String("policy", "", "policy directory (gen)")
	zones := fl.Int("zones", 1000, "zones")
	records := fl.Int("records", 12, "records per zone (gen)")
	secret := fl.String("secret", "", "TSIG secret of the key bench. (hmac-sha256)")
	server := fl.String("server", "", "server HOST:PORT")
	zone := fl.String("zone", "customer0.example.", "zone (seq)")
	n := fl.Int("n", 200, "updates (seq)")
	pairs := fl.Int("pairs", 1000, "add+delete pairs (storm)")
	clients := fl.Int("clients", 16, "update clients at once (storm)")
	seconds := fl.Float64("seconds", 5, "seconds of idle queries (storm)")
	queriers := fl.Int("queriers", 4, "query clients beside the updates (storm); 0: none")
	rate := fl.Float64("rate", 0, "pairs per second at most, all clients together (storm); 0: as fast as the server answers")
	fl.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(*dir, *policy, *zones, *records, *secret)
	case "seq":
		err = seq(*server, *zone, *n, *secret)
	case "storm":
		err = storm(*server, *zones, *pairs, *clients, *secret, time.Duration(*seconds*float64(time.Second)), *rate, *queriers)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "updatebench:", err)
		os.Exit(1)
	}
}

func origin(i int) string { return fmt.Sprintf("customer%d.example.", i) }

func gen(dir, policy string, zones, records int, secret string) error {
	for _, d := range []string{dir, policy} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for i := range zones {
		o := origin(i)
		var b strings.Builder
		fmt.Fprintf(&b, "$TTL 3600\n@ SOA ns1.provider.example. hostmaster 1 7200 3600 1209600 300\n@ NS ns1.provider.example.\n@ MX 10 mail\n@ TXT \"v=spf1 mx -all\"\nmail A 192.0.2.25\n")
		for j := 5; j < records; j++ {
			fmt.Fprintf(&b, "h%d A 10.%d.%d.%d\n", j, j>>16&255, j>>8&255, j&255)
		}
		if err := os.WriteFile(filepath.Join(dir, o+"zone"), []byte(b.String()), 0o644); err != nil {
			return err
		}
		p := fmt.Sprintf("key %q { algorithm hmac-sha256; secret %q; };\ngrant %s subdomain _acme-challenge.%s TXT;\n", keyName, secret, keyName, o)
		if err := os.WriteFile(filepath.Join(policy, o+"conf"), []byte(p), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// send sends one signed update of zone: add or delete one TXT.
func send(c *dns.Client, server, zone, value string, add bool, secret string) (time.Duration, error) {
	m := new(dns.Msg)
	m.SetUpdate(zone)
	rr := &dns.TXT{Hdr: dns.RR_Header{Name: "_acme-challenge." + zone, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{value}}
	if add {
		m.Insert([]dns.RR{rr})
	} else {
		m.Remove([]dns.RR{rr})
	}
	m.SetTsig(keyName, dns.HmacSHA256, 300, time.Now().Unix())
	start := time.Now()
	resp, _, err := c.Exchange(m, server)
	took := time.Since(start)
	if err != nil {
		return took, err
	}
	if resp.Rcode != dns.RcodeSuccess {
		return took, fmt.Errorf("%s: %s", zone, dns.RcodeToString[resp.Rcode])
	}
	return took, nil
}

func newClient(secret string) *dns.Client {
	return &dns.Client{Net: "udp", Timeout: 5 * time.Second, TsigSecret: map[string]string{keyName: secret}}
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(q*float64(len(d))))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }

func seq(server, zone string, n int, secret string) error {
	c := newClient(secret)
	var lat []time.Duration
	for i := range n {
		took, err := send(c, server, zone, fmt.Sprintf("seq-%d", i), i%2 == 0, secret)
		if err != nil {
			return err
		}
		lat = append(lat, took)
	}
	fmt.Println("update_p50_ms", ms(quantile(lat, 0.5)))
	fmt.Println("update_p99_ms", ms(quantile(lat, 0.99)))
	return nil
}

// queries asks MX of random zones from n clients until stop closes; it
// returns the answers per second and the p99 latency.
func queries(server string, zones, n int, stop <-chan struct{}) (float64, time.Duration) {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Timeout: time.Second}
			r := rand.New(rand.NewPCG(uint64(w), 1))
			var mine []time.Duration
			for {
				select {
				case <-stop:
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
					return
				default:
				}
				m := new(dns.Msg)
				m.SetQuestion(origin(r.IntN(zones)), dns.TypeMX)
				t0 := time.Now()
				if _, _, err := c.Exchange(m, server); err == nil {
					mine = append(mine, time.Since(t0))
				}
			}
		}()
	}
	<-stop
	wg.Wait()
	return float64(len(lat)) / time.Since(start).Seconds(), quantile(lat, 0.99)
}

func storm(server string, zones, pairs, clients int, secret string, idle time.Duration, rate float64, queriers int) error {
	stop := make(chan struct{})
	go func() { time.Sleep(idle); close(stop) }()
	qps, p99 := queries(server, zones, queriers, stop)
	fmt.Println("idle_qps", fmt.Sprintf("%.0f", qps))
	fmt.Println("idle_p99_ms", ms(p99))

	var next, lost, failed atomic.Int64
	var wg sync.WaitGroup
	stop = make(chan struct{})
	type qres struct {
		qps float64
		p99 time.Duration
	}
	qdone := make(chan qres, 1)
	go func() { q, p := queries(server, zones, queriers, stop); qdone <- qres{q, p} }()
	var pace <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		pace = t.C
	}
	start := time.Now()
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(secret)
			look := &dns.Client{Timeout: time.Second}
			r := rand.New(rand.NewPCG(uint64(w), 2))
			for next.Add(1) <= int64(pairs) {
				if pace != nil {
					<-pace
				}
				zone := origin(r.IntN(zones))
				value := fmt.Sprintf("token-%d-%d", w, r.Uint64())
				if _, err := send(c, server, zone, value, true, secret); err != nil {
					failed.Add(1)
					continue
				}
				// Acknowledged: it must be answered now.
				m := new(dns.Msg)
				m.SetQuestion("_acme-challenge."+zone, dns.TypeTXT)
				resp, _, err := look.Exchange(m, server)
				if err != nil || !slices.ContainsFunc(resp.Answer, func(rr dns.RR) bool {
					t, ok := rr.(*dns.TXT)
					return ok && len(t.Txt) == 1 && t.Txt[0] == value
				}) {
					lost.Add(1)
				}
				if _, err := send(c, server, zone, value, false, secret); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	close(stop)
	q := <-qdone
	// Nothing may be left over: every pair deleted what it added.
	left := 0
	look := &dns.Client{Timeout: time.Second}
	for i := range zones {
		m := new(dns.Msg)
		m.SetQuestion("_acme-challenge."+origin(i), dns.TypeTXT)
		if resp, _, err := look.Exchange(m, server); err != nil || len(resp.Answer) > 0 {
			left++
		}
	}
	fmt.Println("storm_pairs_per_s", fmt.Sprintf("%.1f", float64(pairs)/took.Seconds()))
	fmt.Println("storm_seconds", fmt.Sprintf("%.2f", took.Seconds()))
	fmt.Println("storm_qps", fmt.Sprintf("%.0f", q.qps))
	fmt.Println("storm_p99_ms", ms(q.p99))
	fmt.Println("lost", lost.Load())
	fmt.Println("half_applied", failed.Load()+int64(left))
	return nil
}
