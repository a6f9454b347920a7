package test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// faultZone is one version of a zone in the fault run. Its serial is unique
// per write, so what a server answers tells which write it came from; the
// TXT record on the last line tells the version was read whole.
func faultZone(serial uint32, broken int) string {
	mx := "@ MX 10 mail\n"
	switch broken {
	case 1:
		mx = "@ MX 10 alias\nalias CNAME mail\n" // mx_target_cname
	case 2:
		mx = "@ MX 10 nowhere\n" // mx_target_address
	case 3:
		mx = "@ MX 10 mail\nmail A 192.0.2.300\n" // syntax
	}
	return fmt.Sprintf("$TTL 300\n@ SOA ns1 hostmaster %d 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\n%smail A 192.0.2.%d\n@ TXT \"version %d\"\n",
		serial, mx, serial%250+1, serial)
}

// faultModel is what the test wrote and saw, per zone.
type faultModel struct {
	mu      sync.Mutex
	serial  map[string]uint32          // last serial written
	valid   map[string]map[uint32]bool // serials of the valid versions written
	onDisk  map[string]bool            // the file now holds a valid version
	seen    map[string]uint32          // newest serial a server was seen answering
	deleted map[string]bool
	writes  int
}

func (m *faultModel) write(t *testing.T, dir, origin string, broken int, inPlace bool) {
	m.mu.Lock()
	m.writes++
	m.serial[origin]++
	s := m.serial[origin]
	if broken == 0 {
		m.valid[origin][s] = true
	}
	m.onDisk[origin] = broken == 0
	m.mu.Unlock()
	path := filepath.Join(dir, origin+"zone")
	if inPlace {
		if err := os.WriteFile(path, []byte(faultZone(s, broken)), 0o644); err != nil {
			t.Error(err)
		}
		return
	}
	writeAtomic(t, path, faultZone(s, broken))
}

// TestKillDuringReloads kills the server with SIGKILL in the middle of a
// stream of valid and broken edits, breaks and deletes some zones while it
// is down, and restarts it, several times. After every start each zone must
// answer with a version that was valid, whole, at least as new as any
// version a server was ever seen answering, and exactly the file's version
// when the file is valid; deleted zones must be gone.
func TestKillDuringReloads(t *testing.T) {
	const zones, rounds = 40, 6
	dir, state := t.TempDir(), t.TempDir()
	m := &faultModel{serial: map[string]uint32{}, valid: map[string]map[uint32]bool{}, onDisk: map[string]bool{},
		seen: map[string]uint32{}, deleted: map[string]bool{}}
	var origins []string
	for i := range zones {
		o := fmt.Sprintf("z%02d.example.", i)
		origins = append(origins, o)
		m.valid[o] = map[uint32]bool{}
		m.write(t, dir, o, 0, false)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range rounds + 1 {
		s := startServer(t, dir, "        reload 1h\n        state "+state)
		checkFaultRun(t, s, m, origins, round)
		if round == rounds {
			break
		}
		// Edits and queries until the kill.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			erng := rand.New(rand.NewPCG(uint64(round), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				o := origins[erng.IntN(zones)]
				if m.deleted[o] {
					continue
				}
				broken := 0
				if erng.IntN(10) < 4 {
					broken = 1 + erng.IntN(3)
				}
				m.write(t, dir, o, broken, erng.IntN(2) == 0)
				time.Sleep(time.Duration(erng.IntN(3)) * time.Millisecond)
			}
		}()
		go func() {
			defer wg.Done()
			c := &dns.Client{Timeout: 200 * time.Millisecond}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				o := origins[i%zones]
				req := new(dns.Msg)
				req.SetQuestion(o, dns.TypeSOA)
				resp, _, err := c.Exchange(req, s.addr)
				if err != nil || resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
					continue
				}
				if soa, ok := resp.Answer[0].(*dns.SOA); ok {
					m.mu.Lock()
					m.seen[o] = max(m.seen[o], soa.Serial)
					m.mu.Unlock()
				}
			}
		}()
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond) // the moment of the fault
		if err := s.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		s.cmd.Wait()
		close(stop)
		wg.Wait()
		// While it is down: break two zones, delete one.
		for range 2 {
			o := origins[rng.IntN(zones)]
			if !m.deleted[o] {
				m.write(t, dir, o, 1+rng.IntN(3), false)
			}
		}
		if o := origins[rng.IntN(zones)]; !m.deleted[o] {
			if err := os.Remove(filepath.Join(dir, o+"zone")); err != nil {
				t.Fatal(err)
			}
			m.deleted[o] = true
		}
	}
}

// checkFaultRun checks every zone of a freshly started server against the
// model, then records what it serves as seen.
//
// A start from the snapshot answers before it has read the files: until
// coredns_mxzone_unverified_zones is 0, a zone may serve the version it
// served before the fault, never an older one; after, what its file says.
func checkFaultRun(t *testing.T, s *server, m *faultModel, origins []string, round int) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	checkFaultZones(t, s, m, origins, round, false)
	series := `coredns_mxzone_unverified_zones{server="dns://` + s.addr + `"}`
	waitFor(t, 20*time.Second, "every file checked against the snapshot", func() bool { return s.metric(t, series) <= 0 })
	fromState := checkFaultZones(t, s, m, origins, round, true)
	got := max(s.metric(t, `coredns_mxzone_zones{server="dns://`+s.addr+`",state="from_state"}`), 0)
	if int(got) != fromState {
		t.Errorf("round %d: metric zones{state=from_state} is %v, want %d", round, got, fromState)
	}
	t.Logf("round %d: %d zones checked after %d writes, %d served from their saved copy", round, len(origins), m.writes, fromState)
}

// checkFaultZones asks every zone for its version and checks it against the
// model; verified: the files are all read, and a valid one is what serves.
// It returns how many zones serve a saved copy (their file is refused).
func checkFaultZones(t *testing.T, s *server, m *faultModel, origins []string, round int, verified bool) int {
	t.Helper()
	var fromState int
	for _, o := range origins {
		resp := ask(t, s.addr, "udp", o, dns.TypeSOA)
		if m.deleted[o] {
			if resp.Rcode != dns.RcodeRefused {
				t.Fatalf("round %d: %s was deleted while the server was down, but answers %s", round, o, dns.RcodeToString[resp.Rcode])
			}
			continue
		}
		if resp.Rcode != dns.RcodeSuccess || !resp.Authoritative || len(resp.Answer) != 1 {
			t.Fatalf("round %d: %s SOA: rcode %s, AA %v, %d answers; want its last good version",
				round, o, dns.RcodeToString[resp.Rcode], resp.Authoritative, len(resp.Answer))
		}
		serial := resp.Answer[0].(*dns.SOA).Serial
		// While verifying, the version may change between two questions.
		if txt := ask(t, s.addr, "tcp", o, dns.TypeTXT); verified && (len(txt.Answer) != 1 || strings.Join(txt.Answer[0].(*dns.TXT).Txt, "") != fmt.Sprintf("version %d", serial)) {
			t.Fatalf("round %d: %s serial %d served with TXT %v: not a whole version", round, o, serial, txt.Answer)
		}
		switch {
		case !m.valid[o][serial]:
			t.Fatalf("round %d: %s serves serial %d, which was never a valid version (valid: %v)",
				round, o, serial, slices.Sorted(maps.Keys(m.valid[o])))
		case verified && m.onDisk[o] && serial != m.serial[o]:
			t.Fatalf("round %d: %s file holds valid serial %d, server answers %d", round, o, m.serial[o], serial)
		case serial < m.seen[o]:
			t.Fatalf("round %d: %s went back to serial %d after serial %d had been served", round, o, serial, m.seen[o])
		}
		if !m.onDisk[o] {
			fromState++
		}
		m.seen[o] = serial
	}
	return fromState
}
