// Command tornstorm checks that coredns-mx never serves a zone file that was
// only partly written. It starts the binary on zones of its own, and while
// writers rewrite the files in place line by line, pausing at line ends
// (truncate, then write: the way that can be caught half done), a checker
// asks each zone's apex for ANY: one reply, from one published version,
// holding the SOA (first line of the file, serial N) and the TXT "end N"
// (last line). A reply with serial N and no "end N" is a torn version.
//
//	go run ./bench/cmd/tornstorm -bin ./coredns-mx [-zones 20] [-writers 4] [-pause 300ms] [-d 60s]
//
// Everything listens on 127.0.0.1 and stops at the end.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

func main() {
	bin := flag.String("bin", "", "the coredns-mx binary")
	zones := flag.Int("zones", 20, "zone files")
	writers := flag.Int("writers", 4, "writers rewriting files in place")
	pause := flag.Duration("pause", 300*time.Millisecond, "the longest pause of a writer at a line end")
	duration := flag.Duration("d", 60*time.Second, "how long the storm lasts")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "tornstorm: -bin is required")
		os.Exit(2)
	}
	if err := run(*bin, *zones, *writers, *pause, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "tornstorm:", err)
		os.Exit(1)
	}
}

// zoneText is version n of zone i, as lines.
func zoneText(i, n int) []string {
	lines := []string{
		"$TTL 60",
		fmt.Sprintf("@ SOA ns1 host %d 7200 3600 1209600 60", n),
		"@ NS ns1",
		"ns1 A 192.0.2.53",
	}
	for h := range 20 {
		lines = append(lines, fmt.Sprintf("host%d A 192.0.2.%d", h, (n+h)%250+1))
	}
	return append(lines, fmt.Sprintf("@ TXT \"end %d\"", n))
}

func origin(i int) string { return fmt.Sprintf("z%d.example.", i) }

func run(bin string, zones, writers int, pause, duration time.Duration) error {
	dir, err := os.MkdirTemp("", "tornstorm")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for i := range zones {
		if err := os.WriteFile(filepath.Join(dir, origin(i)+"zone"), []byte(strings.Join(zoneText(i, 1), "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	conf := filepath.Join(dir, "Corefile")
	corefile := fmt.Sprintf(".:%d {\n  bind 127.0.0.1\n  mxzone %s {\n    reload 2s\n  }\n}\n", port, dir)
	if err := os.WriteFile(conf, []byte(corefile), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(bin, "-conf", conf, "-quiet")
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	client := &dns.Client{Timeout: time.Second}
	ask := func(name string, t uint16) (*dns.Msg, error) {
		m := new(dns.Msg)
		m.SetQuestion(name, t)
		r, _, err := client.Exchange(m, addr)
		return r, err
	}
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if r, err := ask(origin(zones-1), dns.TypeSOA); err == nil && r.Rcode == dns.RcodeSuccess {
			break
		}
		if time.Since(start) > 20*time.Second {
			return fmt.Errorf("the server did not answer")
		}
	}

	stop := make(chan struct{})
	var versions, checks, torn, errs atomic.Int64
	var wg sync.WaitGroup
	var locks = make([]sync.Mutex, zones)
	next := make([]int, zones)
	for i := range next {
		next[i] = 2
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := rng.IntN(zones)
				locks[i].Lock()
				n := next[i]
				next[i]++
				err := writeInPlace(filepath.Join(dir, origin(i)+"zone"), zoneText(i, n), rng, pause)
				locks[i].Unlock()
				if err != nil {
					fmt.Fprintln(os.Stderr, "write:", err)
					return
				}
				versions.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i = (i + 1) % zones {
			select {
			case <-stop:
				return
			default:
			}
			r, err := ask(origin(i), dns.TypeANY)
			if err != nil || r.Rcode != dns.RcodeSuccess {
				errs.Add(1)
				continue
			}
			checks.Add(1)
			serial, end := uint32(0), ""
			for _, rr := range r.Answer {
				switch v := rr.(type) {
				case *dns.SOA:
					serial = v.Serial
				case *dns.TXT:
					end = strings.Join(v.Txt, "")
				}
			}
			if end != "end "+strconv.Itoa(int(serial)) {
				torn.Add(1)
				fmt.Fprintf(os.Stderr, "torn: %s serial %d, last line %q\n", origin(i), serial, end)
			}
		}
	}()
	time.Sleep(duration)
	close(stop)
	wg.Wait()
	fmt.Printf("%s: %d zones, %d writers pausing up to %v at line ends, %v\n", filepath.Base(bin), zones, writers, pause, duration)
	fmt.Printf("versions written in place: %d\nreplies checked: %d (failed queries: %d)\ntorn versions served: %d\n",
		versions.Load(), checks.Load(), errs.Load(), torn.Load())
	if torn.Load() > 0 {
		return fmt.Errorf("%d torn versions served", torn.Load())
	}
	return nil
}

// writeInPlace truncates path and writes lines to it one at a time,
// pausing at random up to pause after some of them.
func writeInPlace(path string, lines []string, rng *rand.Rand, pause time.Duration) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, line := range lines {
		w.WriteString(line + "\n")
		if rng.IntN(8) == 0 {
			w.Flush()
			time.Sleep(time.Duration(rng.Int64N(int64(pause) + 1)))
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
