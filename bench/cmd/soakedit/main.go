// Command soakedit edits a zone directory while coredns-mx serves it, and
// checks every edit through DNS: a valid edit must become visible within
// -within, a broken edit must never be served, a deleted zone must go and
// come back, and an edit of the provider's zone that would break its
// customers must be refused. It prints a summary and exits 1 on any failure.
//
//	soakedit -dir ZONES -server 127.0.0.1:PORT -zones N -duration 5m
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coredns-mx/coredns-mx/internal/zonegen"

	"github.com/miekg/dns"
)

func main() {
	dir := flag.String("dir", "", "zone directory served by coredns-mx")
	server := flag.String("server", "127.0.0.1:1053", "coredns-mx address")
	zones := flag.Int("zones", 1000, "zones customer0..N-1 in the directory (zonegen)")
	duration := flag.Duration("duration", time.Minute, "how long to edit")
	within := flag.Duration("within", 2*time.Second, "how soon a valid edit must be served, or a broken one refused")
	metrics := flag.String("metrics", "", "the server's prometheus address: a broken edit counts as refused once the server counts a refused reload")
	flag.Parse()
	if *dir == "" || *metrics == "" {
		flag.Usage()
		os.Exit(2)
	}
	e := &editor{dir: *dir, server: *server, metrics: *metrics, zones: *zones, within: *within, rng: rand.New(rand.NewPCG(1, 2))}
	if err := e.setup(); err != nil {
		fmt.Fprintln(os.Stderr, "soakedit:", err)
		os.Exit(1)
	}
	end := time.Now().Add(*duration)
	for time.Now().Before(end) {
		switch r := e.rng.IntN(10); {
		case r < 5:
			e.validEdit()
		case r < 7:
			e.brokenEdit()
		case r < 8:
			e.deleteAndReadd()
		case r < 9:
			e.breakProvider()
		default:
			e.providerEdit()
		}
	}
	fmt.Printf("edits: %d valid (slowest visible after %v), %d broken refused, %d delete/re-add, %d provider breaks refused, %d provider edits\n",
		e.valid, e.slowest.Round(time.Millisecond), e.broken, e.deleted, e.providerBreaks, e.providerEdits)
	if len(e.failures) > 0 {
		fmt.Printf("FAILURES: %d\n", len(e.failures))
		for _, f := range e.failures[:min(len(e.failures), 20)] {
			fmt.Println("  " + f)
		}
		os.Exit(1)
	}
	fmt.Println("failures: 0")
}

// The provider zone and the customers that point their MX at it (not in
// the dnsperf query file: deletions and provider edits happen here).
const (
	provider  = "provider.example."
	customers = 50
)

type editor struct {
	dir, server string
	metrics     string // prometheus HOST:PORT
	zones       int
	within      time.Duration
	rng         *rand.Rand
	seq         int

	valid, broken, deleted, providerBreaks, providerEdits int
	slowest                                               time.Duration
	failures                                              []string
}

func (e *editor) providerZone(withMX1 bool, marker string) string {
	z := "$TTL 300\n@ SOA ns1 host 1 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.53\nmxp2 A 192.0.2.26\n"
	if withMX1 {
		z += "mxp1 A 192.0.2.25\n"
	}
	return z + "soak TXT \"" + marker + "\"\n"
}

func customerName(i int) string { return fmt.Sprintf("hosted%d.example.", i) }

func (e *editor) customerZone(marker string) string {
	return fmt.Sprintf("$TTL 300\n@ SOA ns1.provider.example. host 1 3600 600 86400 60\n@ NS ns1.provider.example.\n"+
		"@ MX 10 mxp1.provider.example.\n@ MX 20 mxp2.provider.example.\nsoak TXT %q\n", marker)
}

// setup writes the provider and its customers and waits until they answer.
func (e *editor) setup() error {
	e.write(provider, e.providerZone(true, "p0"))
	for i := range customers {
		e.write(customerName(i), e.customerZone("c0"))
	}
	deadline := time.Now().Add(30 * time.Second)
	for e.txt(customerName(customers-1)) != "c0" {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s never served", customerName(customers-1))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// write replaces a zone file the safe way: aside, then rename.
func (e *editor) write(origin, text string) {
	path := filepath.Join(e.dir, origin+"zone")
	if err := os.WriteFile(path+".tmp", []byte(text), 0o644); err != nil {
		e.fail("write %s: %v", path, err)
		return
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		e.fail("rename %s: %v", path, err)
	}
}

func (e *editor) fail(format string, args ...any) {
	e.failures = append(e.failures, fmt.Sprintf(format, args...))
}

// txt returns the TXT at soak.<origin>, "" for none, or the rcode name.
func (e *editor) txt(origin string) string {
	m := new(dns.Msg)
	m.SetQuestion("soak."+origin, dns.TypeTXT)
	r, err := dns.Exchange(m, e.server)
	if err != nil {
		return "error: " + err.Error()
	}
	if r.Rcode != dns.RcodeSuccess {
		return dns.RcodeToString[r.Rcode]
	}
	for _, rr := range r.Answer {
		if t, ok := rr.(*dns.TXT); ok {
			return strings.Join(t.Txt, "")
		}
	}
	return ""
}

// await polls until origin's marker is want, and records how long it took.
func (e *editor) await(origin, want string) bool {
	start := time.Now()
	for {
		got := e.txt(origin)
		if got == want {
			e.slowest = max(e.slowest, time.Since(start))
			return true
		}
		if time.Since(start) > e.within {
			e.fail("%s: %q not served within %v (serving %q)", origin, want, e.within, got)
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *editor) next() string { e.seq++; return fmt.Sprintf("s%d", e.seq) }

// validEdit adds a marker record to a zonegen customer zone.
func (e *editor) validEdit() {
	origin := zonegen.Origin(e.rng.IntN(e.zones))
	marker := e.next()
	e.write(origin, zonegen.Zone(origin)+fmt.Sprintf("soak TXT %q\n", marker))
	if e.await(origin, marker) {
		e.valid++
	}
}

// brokenEdit points an MX at an IP address: the zone keeps its last good
// version, which must still be served after the reload had its chance.
func (e *editor) brokenEdit() {
	origin := zonegen.Origin(e.rng.IntN(e.zones))
	before := e.txt(origin)
	marker := e.next()
	refusals := e.refusedReloads()
	e.write(origin, zonegen.Zone(origin)+fmt.Sprintf("soak TXT %q\n@ MX 30 192.0.2.1.\n", marker))
	if !e.awaitRefusal(origin, marker, refusals) {
		return
	}
	if got := e.txt(origin); got == marker || got != before {
		e.fail("%s: broken edit %s: serving %q, want the last good %q", origin, marker, got, before)
		return
	}
	e.broken++
}

// deleteAndReadd removes a hosted zone and puts it back.
func (e *editor) deleteAndReadd() {
	origin := customerName(e.rng.IntN(customers))
	if err := os.Remove(filepath.Join(e.dir, origin+"zone")); err != nil {
		e.fail("remove %s: %v", origin, err)
		return
	}
	if !e.await(origin, "REFUSED") {
		return
	}
	marker := e.next()
	e.write(origin, e.customerZone(marker))
	if e.await(origin, marker) {
		e.deleted++
	}
}

// breakProvider removes the mail host every customer points at: refused.
func (e *editor) breakProvider() {
	before := e.txt(provider)
	marker := e.next()
	refusals := e.refusedReloads()
	e.write(provider, e.providerZone(false, marker))
	if !e.awaitRefusal(provider, marker, refusals) {
		return
	}
	if got := e.txt(provider); got != before {
		e.fail("provider edit that breaks customers served: %q (was %q)", got, before)
		return
	}
	e.providerBreaks++
	// Put a valid version back so the next break starts from a good file.
	e.providerEdit()
}

// providerEdit is a valid edit of the provider zone.
func (e *editor) providerEdit() {
	marker := e.next()
	e.write(provider, e.providerZone(true, marker))
	if e.await(provider, marker) {
		e.providerEdits++
	}
}

// refusedReloads is the server's count of reloads that held an edit back
// (coredns_mxzone_reloads_total{result="refused"}, every server block), -1
// when it cannot be read.
func (e *editor) refusedReloads() float64 {
	resp, err := http.Get("http://" + e.metrics + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sum, seen := 0.0, false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "coredns_mxzone_reloads_total{") || !strings.Contains(line, `result="refused"`) {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			sum, seen = sum+v, true
		}
	}
	if !seen {
		return 0 // no reload refused yet: the series is not there
	}
	return sum
}

// awaitRefusal waits until the server says it refused an edit after the
// count before (the edit of origin carrying marker), at most e.within.
func (e *editor) awaitRefusal(origin, marker string, before float64) bool {
	start := time.Now()
	for {
		if n := e.refusedReloads(); before >= 0 && n > before {
			return true
		}
		if time.Since(start) > e.within {
			e.fail("%s: broken edit %s: the server counted no refused reload within %v", origin, marker, e.within)
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}
