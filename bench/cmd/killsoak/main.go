// Command killsoak runs coredns-mx on a signed zone directory that takes
// updates, and for -duration: probes it (MX of random zones, one query
// every 5 ms, each answer checked), edits one zone file a second (one in
// five broken), sends one TSIG-signed UPDATE a second, kills the server
// with SIGKILL -kills times (restarting it at once) and fills the state
// directory's file system -fulls times for 20 s (it must be a small file
// system of its own, a tmpfs). At the end it checks that every valid edit
// and every acknowledged UPDATE is served, no broken edit ever was, and no
// probe failed outside the kill windows; it prints the figures and exits 1
// on any failure.
//
//	killsoak -bin coredns-mx -zones DIR -n 10000 -state TMPFS -work DIR [-duration 10m] [-kills 6] [-fulls 2]
package main

import (
	crand "crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/coredns-mx/coredns-mx/internal/zonegen"
)

type soak struct {
	bin, zones, state, work string
	n                       int
	addr                    string
	conf                    string
	key                     string // TSIG secret

	mu      sync.Mutex
	cmd     *exec.Cmd
	windows [][2]time.Time // from a kill until the restarted server answered
	down    bool
	fails   []string // probe failures outside the kill windows
	probes  int
	lost    int // probes inside kill windows that failed
	valid   map[string]uint32
	broken  map[string]map[uint32]bool
	edits   [2]int // valid, broken
	acked   []string
	updates [3]int // acked, refused, unanswered
	rss     []int  // KiB, sampled every 10 s
	recover []time.Duration
}

func main() {
	s := &soak{valid: map[string]uint32{}, broken: map[string]map[uint32]bool{}}
	flag.StringVar(&s.bin, "bin", "coredns-mx", "the binary")
	flag.StringVar(&s.zones, "zones", "", "the zone directory (zonegen)")
	flag.IntVar(&s.n, "n", 10000, "zones in it")
	flag.StringVar(&s.state, "state", "", "the state directory, on a small file system of its own")
	flag.StringVar(&s.work, "work", "", "a directory for the Corefile, policies and logs")
	duration := flag.Duration("duration", 10*time.Minute, "how long")
	kills := flag.Int("kills", 6, "SIGKILLs, spread over the run")
	fulls := flag.Int("fulls", 2, "times the state file system is filled for 20 s")
	port := flag.Int("port", 15300, "DNS port")
	flag.Parse()
	if s.zones == "" || s.state == "" || s.work == "" {
		flag.Usage()
		os.Exit(2)
	}
	s.addr = "127.0.0.1:" + strconv.Itoa(*port)
	if err := s.setup(); err != nil {
		fmt.Fprintln(os.Stderr, "killsoak:", err)
		os.Exit(1)
	}
	t0 := time.Now()
	if err := s.start(); err != nil {
		fmt.Fprintln(os.Stderr, "killsoak:", err)
		os.Exit(1)
	}
	fmt.Printf("first start: answering after %v\n", time.Since(t0).Round(time.Millisecond))
	end := time.Now().Add(*duration)
	var wg sync.WaitGroup
	for _, loop := range []func(time.Time){s.probe, s.edit, s.update, s.sample} {
		wg.Add(1)
		go func() { defer wg.Done(); loop(end) }()
	}
	events := make([]string, 0, *kills+*fulls)
	for range *kills {
		events = append(events, "kill")
	}
	for range *fulls {
		events = append(events, "full")
	}
	rand.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	step := *duration / time.Duration(len(events)+1)
	for i, ev := range events {
		time.Sleep(time.Until(t0.Add(time.Duration(i+1) * step)))
		switch ev {
		case "kill":
			s.kill()
		case "full":
			s.fill(20 * time.Second)
		}
	}
	wg.Wait()
	ok := s.report()
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
	if !ok {
		os.Exit(1)
	}
}

// setup writes the Corefile and the update policy of customer0.
func (s *soak) setup() error {
	b := make([]byte, 32)
	crand.Read(b)
	s.key = base64.StdEncoding.EncodeToString(b)
	policies := filepath.Join(s.work, "policy")
	if err := os.MkdirAll(policies, 0o700); err != nil {
		return err
	}
	pol := fmt.Sprintf("key \"soak\" {\n\talgorithm hmac-sha256;\n\tsecret \"%s\";\n};\ngrant soak zonesub TXT;\n", s.key)
	if err := os.WriteFile(filepath.Join(policies, zonegen.Origin(0)+"conf"), []byte(pol), 0o600); err != nil {
		return err
	}
	s.conf = filepath.Join(s.work, "Corefile")
	_, port, _ := strings.Cut(s.addr, ":")
	conf := fmt.Sprintf(".:%s {\n  bind 127.0.0.1\n  mxzone %s {\n    reload 30s\n    state %s\n    dnssec\n    update %s\n  }\n}\n",
		port, s.zones, s.state, policies)
	return os.WriteFile(s.conf, []byte(conf), 0o644)
}

// start runs the server and waits until it answers.
func (s *soak) start() error {
	logf, err := os.OpenFile(filepath.Join(s.work, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "-conf", s.conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if r, err := exchange(s.addr, zonegen.Origin(s.n-1), dns.TypeSOA, 200*time.Millisecond); err == nil && r.Rcode == dns.RcodeSuccess {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("the server did not answer within 2 minutes")
}

// kill sends SIGKILL and restarts the server, recording the window.
func (s *soak) kill() {
	s.mu.Lock()
	s.down = true
	from := time.Now()
	s.cmd.Process.Kill()
	s.mu.Unlock()
	s.cmd.Wait()
	restart := time.Now()
	if err := s.start(); err != nil {
		fmt.Fprintln(os.Stderr, "killsoak: restart:", err)
		os.Exit(1)
	}
	s.mu.Lock()
	s.down = false
	s.windows = append(s.windows, [2]time.Time{from, time.Now()})
	s.recover = append(s.recover, time.Since(restart))
	s.mu.Unlock()
	fmt.Printf("%s kill -9: answering again %v after the restart\n", time.Now().Format("15:04:05"), time.Since(restart).Round(time.Millisecond))
}

// fill fills the state file system for d, then frees it.
func (s *soak) fill(d time.Duration) {
	path := filepath.Join(s.state, "filler")
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "killsoak: fill:", err)
		return
	}
	buf := make([]byte, 1<<20)
	n := 0
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
		n++
	}
	f.Close()
	fmt.Printf("%s state file system full (%d MiB written) for %v\n", time.Now().Format("15:04:05"), n, d)
	time.Sleep(d)
	os.Remove(path)
}

// inWindow reports whether t falls in a kill window (or one under way).
func (s *soak) inWindow(t time.Time) bool {
	if s.down {
		return true
	}
	for _, w := range s.windows {
		if !t.Before(w[0]) && !t.After(w[1].Add(100*time.Millisecond)) {
			return true
		}
	}
	return false
}

// probe asks MX of a random zone every 5 ms.
func (s *soak) probe(end time.Time) {
	rng := rand.New(rand.NewPCG(1, 1))
	for time.Now().Before(end) {
		origin := zonegen.Origin(rng.IntN(s.n))
		at := time.Now()
		r, err := exchange(s.addr, origin, dns.TypeMX, time.Second)
		bad := ""
		switch {
		case err != nil:
			bad = err.Error()
		case r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0:
			bad = dns.RcodeToString[r.Rcode] + " with " + strconv.Itoa(len(r.Answer)) + " answers"
		}
		s.mu.Lock()
		s.probes++
		if bad != "" {
			if s.inWindow(at) || s.inWindow(time.Now()) {
				s.lost++
			} else {
				s.fails = append(s.fails, at.Format("15:04:05.000")+" "+origin+": "+bad)
			}
		}
		s.mu.Unlock()
		time.Sleep(time.Until(at.Add(5 * time.Millisecond)))
	}
}

// edit writes one zone file a second among the first 1,000 zones: a valid
// version with a higher serial, or (one in five) a broken one.
func (s *soak) edit(end time.Time) {
	rng := rand.New(rand.NewPCG(2, 2))
	serial := uint32(1000)
	for i := 0; time.Now().Before(end); i++ {
		origin := zonegen.Origin(1 + rng.IntN(min(1000, s.n-1)))
		serial++
		text := strings.Replace(zonegen.Zone(origin), "hostmaster."+origin+" 1 ", "hostmaster."+origin+" "+strconv.Itoa(int(serial))+" ", 1)
		broken := i%5 == 4
		if broken {
			text = strings.Replace(text, "MX    10 mx1", "MX    10 192.0.2.1", 1)
		}
		path := filepath.Join(s.zones, origin+"zone")
		if err := os.WriteFile(path+".tmp", []byte(text), 0o644); err == nil {
			os.Rename(path+".tmp", path)
		}
		s.mu.Lock()
		if broken {
			if s.broken[origin] == nil {
				s.broken[origin] = map[uint32]bool{}
			}
			s.broken[origin][serial] = true
			s.edits[1]++
		} else {
			s.valid[origin] = serial
			s.edits[0]++
		}
		s.mu.Unlock()
		time.Sleep(time.Second)
	}
}

// update sends one UPDATE a second to customer0: a TXT at a new name.
func (s *soak) update(end time.Time) {
	zone := zonegen.Origin(0)
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second, TsigSecret: map[string]string{"soak.": s.key}}
	for i := 0; time.Now().Before(end); i++ {
		name := fmt.Sprintf("u%d.%s", i, zone)
		m := new(dns.Msg)
		m.SetUpdate(zone)
		rr, _ := dns.NewRR(fmt.Sprintf("%s 60 IN TXT \"soak %d\"", name, i))
		m.Insert([]dns.RR{rr})
		m.SetTsig("soak.", dns.HmacSHA256, 300, time.Now().Unix())
		r, _, err := c.Exchange(m, s.addr)
		s.mu.Lock()
		switch {
		case err != nil:
			s.updates[2]++
		case r.Rcode == dns.RcodeSuccess:
			s.updates[0]++
			s.acked = append(s.acked, name)
		default:
			s.updates[1]++
		}
		s.mu.Unlock()
		time.Sleep(time.Second)
	}
}

// sample reads the server's RSS every 10 s.
func (s *soak) sample(end time.Time) {
	for time.Now().Before(end) {
		time.Sleep(10 * time.Second)
		s.mu.Lock()
		pid := s.cmd.Process.Pid
		s.mu.Unlock()
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.Atoi(strings.Fields(v)[0])
				s.mu.Lock()
				s.rss = append(s.rss, kb)
				s.mu.Unlock()
			}
		}
	}
}

// report checks the end state and prints the figures.
func (s *soak) report() bool {
	time.Sleep(3 * time.Second) // the last edit's debounce and reload
	ok := true
	lostEdits := 0
	for origin, want := range s.valid {
		r, err := exchange(s.addr, origin, dns.TypeSOA, time.Second)
		if err != nil || len(r.Answer) == 0 {
			lostEdits++
			continue
		}
		got := r.Answer[0].(*dns.SOA).Serial
		if s.broken[origin][got] || got < want {
			fmt.Printf("FAIL %s serves serial %d, last valid written %d\n", origin, got, want)
			lostEdits++
		}
	}
	lostUpdates := 0
	for _, name := range s.acked {
		r, err := exchange(s.addr, name, dns.TypeTXT, time.Second)
		if err != nil || len(r.Answer) == 0 {
			lostUpdates++
		}
	}
	fmt.Printf("probes: %d, failed inside kill windows: %d, failed outside: %d\n", s.probes, s.lost, len(s.fails))
	for _, f := range s.fails[:min(len(s.fails), 10)] {
		fmt.Println("  ", f)
	}
	fmt.Printf("file edits: %d valid (%d zones, last version lost: %d), %d broken\n", s.edits[0], len(s.valid), lostEdits, s.edits[1])
	fmt.Printf("updates: %d acknowledged (lost after the end: %d), %d refused, %d unanswered\n", s.updates[0], lostUpdates, s.updates[1], s.updates[2])
	var rec []string
	for _, d := range s.recover {
		rec = append(rec, d.Round(time.Millisecond).String())
	}
	fmt.Printf("kill -9: %d, answering again after: %s\n", len(s.recover), strings.Join(rec, ", "))
	if len(s.rss) > 0 {
		fmt.Printf("RSS (MiB, every 10 s): first %d, max %d, last %d\n", s.rss[0]/1024, slices.Max(s.rss)/1024, s.rss[len(s.rss)-1]/1024)
	}
	if len(s.fails) > 0 || lostEdits > 0 || lostUpdates > 0 || slices.ContainsFunc(s.recover, func(d time.Duration) bool { return d > 2*time.Second }) {
		ok = false
	}
	fmt.Println(map[bool]string{true: "PASS", false: "FAIL"}[ok])
	return ok
}

// exchange asks one question over UDP.
func exchange(addr, name string, t uint16, timeout time.Duration) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, t)
	m.SetEdns0(1232, true)
	c := &dns.Client{Timeout: timeout}
	r, _, err := c.Exchange(m, addr)
	return r, err
}
