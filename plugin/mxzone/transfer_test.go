package mxzone

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/transfer"

	"github.com/miekg/dns"
)

// transferAll collects what Transfer sends for zone and serial.
func transferAll(t *testing.T, m *MXZone, zone string, serial uint32) ([]dns.RR, error) {
	t.Helper()
	ch, err := m.Transfer(zone, serial)
	if err != nil {
		return nil, err
	}
	var out []dns.RR
	for batch := range ch {
		out = append(out, batch...)
	}
	return out, nil
}

func TestTransfer(t *testing.T) {
	var lines []string
	for i := range 1200 { // more than two batches
		lines = append(lines, "h"+strconv.Itoa(i)+" A 192.0.2.1")
	}
	dir := writeZones(t, map[string]string{
		"example.net.zone":   provider,
		"big.example.zone":   customer("big.example.", "7", lines...),
		"never.example.zone": customer("never.example.", "1", "@ MX 10 alias.example.net."),
	})
	m := newTestPlugin(t, dir, DefaultPolicy())
	served := m.gen.Load().zones["big.example."].zone

	tests := []struct {
		name    string
		zone    string
		serial  uint32
		want    int // records sent; 1: the SOA alone
		wantErr error
	}{
		{"AXFR", "big.example.", 0, served.Len() + 1, nil},
		{"AXFR, name in upper case", "BIG.example", 0, served.Len() + 1, nil},
		{"IXFR from an older serial: the whole zone", "big.example.", 6, served.Len() + 1, nil},
		{"IXFR from the served serial: up to date", "big.example.", 7, 1, nil},
		{"IXFR from a newer serial: up to date", "big.example.", 8, 1, nil},
		{"IXFR across serial wrap: older", "big.example.", 0xfffffff0, served.Len() + 1, nil},
		{"a zone never valid is not transferred", "never.example.", 0, 0, errNotServed},
		{"a name that is no zone of ours", "other.example.", 0, 0, transfer.ErrNotAuthoritative},
		{"a name inside a zone, not its apex", "www.big.example.", 0, 0, transfer.ErrNotAuthoritative},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rrs, err := transferAll(t, m, tc.zone, tc.serial)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if len(rrs) != tc.want {
				t.Fatalf("%d records, want %d", len(rrs), tc.want)
			}
			if tc.want == 0 {
				return
			}
			if soa := served.SOA().String(); rrs[0].String() != soa || rrs[len(rrs)-1].String() != soa {
				t.Fatalf("transfer does not start and end with the SOA: %v ... %v", rrs[0], rrs[len(rrs)-1])
			}
			soas := 0
			for _, rr := range rrs {
				if rr.Header().Rrtype == dns.TypeSOA {
					soas++
				}
			}
			if tc.want > 1 && soas != 2 {
				t.Fatalf("%d SOA records in an AXFR, want 2", soas)
			}
		})
	}

	t.Run("AXFR and IXFR queries without the transfer plugin are refused", func(t *testing.T) {
		for _, qt := range []uint16{dns.TypeAXFR, dns.TypeIXFR} {
			if _, rcode := query(t, m, "big.example.", qt); rcode != dns.RcodeRefused {
				t.Errorf("%s: rcode %s, want REFUSED", dns.TypeToString[qt], dns.RcodeToString[rcode])
			}
		}
	})

	t.Run("a refused edit transfers the last good version", func(t *testing.T) {
		writeFile(t, dir, "big.example.zone", customer("big.example.", "8", "@ MX 10 alias.example.net."))
		bumpMtime(t, filepath.Join(dir, "big.example.zone"), time.Second)
		if err := m.reloadNames([]string{"big.example.zone"}); err != nil {
			t.Fatal(err)
		}
		rrs, err := transferAll(t, m, "big.example.", 0)
		if err != nil || len(rrs) != served.Len()+1 || rrs[0].(*dns.SOA).Serial != 7 {
			t.Fatalf("got %d records (%v), want the %d of serial 7", len(rrs), err, served.Len()+1)
		}
	})
}

// catalogOf returns the member zones listed in m's catalog and its serial.
func catalogOf(t *testing.T, m *MXZone) ([]string, uint32) {
	t.Helper()
	rrs, err := transferAll(t, m, m.catalog.origin, 0)
	if err != nil {
		t.Fatal(err)
	}
	var members []string
	var version string
	for _, rr := range rrs {
		switch rr := rr.(type) {
		case *dns.PTR:
			if want := memberID(rr.Ptr) + ".zones." + m.catalog.origin; rr.Hdr.Name != want {
				t.Errorf("member %s at %s, want %s", rr.Ptr, rr.Hdr.Name, want)
			}
			members = append(members, rr.Ptr)
		case *dns.TXT:
			if rr.Hdr.Name == "version."+m.catalog.origin {
				version = rr.Txt[0]
			}
		}
	}
	if version != "2" {
		t.Fatalf("catalog version %q, want \"2\" (RFC 9432)", version)
	}
	slices.Sort(members)
	return members, rrs[0].(*dns.SOA).Serial
}

// notified records the zones a plugin sends NOTIFY for.
type notified struct {
	mu    sync.Mutex
	zones []string
}

func (n *notified) send(zone string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.zones = append(n.zones, zone)
	return nil
}

// take returns and forgets the zones queued for NOTIFY, in order.
func (n *notified) take(m *MXZone) []string {
	for z, ok := m.notify.next(); ok; z, ok = m.notify.next() {
		n.send(z)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	out := n.zones
	n.zones = nil
	slices.Sort(out)
	return out
}

// TestCatalogAndNotify walks a zone directory through the changes a
// secondary must follow and checks the catalog (RFC 9432) and the NOTIFYs
// queued after each.
func TestCatalogAndNotify(t *testing.T) {
	dir := writeZones(t, map[string]string{
		"example.net.zone": provider,
		"a.example.zone":   customer("a.example.", "1"),
		"bad.example.zone": customer("bad.example.", "1", "@ MX 10 alias.example.net."),
	})
	abs, _ := filepath.Abs(dir)
	sent := &notified{}
	m := &MXZone{Origins: []string{"."}, server: "dns://test", catalog: newCatalog("catalog.invalid."),
		loader: &loader{dir: abs, origins: []string{"."}, policy: DefaultPolicy(), limits: DefaultLimits(), catalog: "catalog.invalid."}}
	m.notify = newNotifier(sent.send)
	if err := m.reload(); err != nil {
		t.Fatal(err)
	}
	members, serial := catalogOf(t, m)
	if want := []string{"a.example.", "example.net."}; !slices.Equal(members, want) {
		t.Fatalf("members %v, want %v: served zones only", members, want)
	}
	if got, want := sent.take(m), []string{"a.example.", "catalog.invalid.", "example.net."}; !slices.Equal(got, want) {
		t.Fatalf("first load notified %v, want %v", got, want)
	}
	if msg, rcode := query(t, m, "version.catalog.invalid.", dns.TypeTXT); rcode != dns.RcodeSuccess || len(msg.Answer) != 1 || !msg.Authoritative {
		t.Fatalf("catalog zone not served: %d %v", rcode, msg)
	}

	steps := []struct {
		name        string
		edit        func()
		file        string
		members     []string
		newSerial   bool
		notifyZones []string
	}{
		{"a valid edit notifies its zone only", func() {
			writeFile(t, dir, "a.example.zone", customer("a.example.", "2", "www A 192.0.2.9"))
		}, "a.example.zone", []string{"a.example.", "example.net."}, false, []string{"a.example."}},
		{"a refused edit notifies nothing", func() {
			writeFile(t, dir, "a.example.zone", customer("a.example.", "3", "@ MX 10 alias.example.net."))
		}, "a.example.zone", []string{"a.example.", "example.net."}, false, nil},
		{"a new zone joins the catalog, which alone is notified", func() {
			writeFile(t, dir, "b.example.zone", customer("b.example.", "1"))
		}, "b.example.zone", []string{"a.example.", "b.example.", "example.net."}, true, []string{"catalog.invalid."}},
		{"a new zone that is never valid stays out", func() {
			writeFile(t, dir, "c.example.zone", customer("c.example.", "1", "@ MX 10 192.0.2.1."))
		}, "c.example.zone", []string{"a.example.", "b.example.", "example.net."}, false, nil},
		{"a fixed zone joins the catalog", func() {
			writeFile(t, dir, "bad.example.zone", customer("bad.example.", "2"))
		}, "bad.example.zone", []string{"a.example.", "b.example.", "bad.example.", "example.net."}, true, []string{"bad.example.", "catalog.invalid."}},
		{"a deleted zone leaves the catalog", func() {
			if err := os.Remove(filepath.Join(dir, "b.example.zone")); err != nil {
				t.Fatal(err)
			}
		}, "b.example.zone", []string{"a.example.", "bad.example.", "example.net."}, true, []string{"catalog.invalid."}},
		{"a file named like the catalog is refused", func() {
			writeFile(t, dir, "catalog.invalid.zone", customer("catalog.invalid.", "1"))
		}, "catalog.invalid.zone", []string{"a.example.", "bad.example.", "example.net."}, false, nil},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.edit()
			if _, err := os.Stat(filepath.Join(dir, st.file)); err == nil {
				bumpMtime(t, filepath.Join(dir, st.file), time.Duration(i+1)*time.Second)
			}
			if err := m.reloadNames([]string{st.file}); err != nil {
				t.Fatal(err)
			}
			m.flushCatalog() // what the catalog builder does 100 ms later
			members, s := catalogOf(t, m)
			if !slices.Equal(members, st.members) {
				t.Fatalf("members %v, want %v", members, st.members)
			}
			if st.newSerial != serialNewer(s, serial) || !st.newSerial && s != serial {
				t.Fatalf("catalog serial %d after %d; want a newer one: %v", s, serial, st.newSerial)
			}
			serial = s
			if got := sent.take(m); !slices.Equal(got, st.notifyZones) {
				t.Fatalf("notified %v, want %v", got, st.notifyZones)
			}
		})
	}
	// A rescan that finds nothing new publishes nothing and notifies nothing.
	if err := m.reload(); err != nil {
		t.Fatal(err)
	}
	if got := sent.take(m); len(got) != 0 {
		t.Fatalf("a rescan without changes notified %v", got)
	}
	if msg, rcode := query(t, m, "catalog.invalid.", dns.TypeSOA); rcode != dns.RcodeSuccess || msg.Answer[0].(*dns.SOA).Serial != serial {
		t.Fatalf("catalog SOA over DNS: %d %v", rcode, msg)
	}
}

func TestNextSerial(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		last, want uint32
	}{
		{0, 1_800_000_000},
		{1_700_000_000, 1_800_000_000},
		{1_800_000_000, 1_800_000_001}, // two changes in one second
		{1_900_000_000, 1_900_000_001}, // ahead of the clock: never back
		{0xffffffff, 1_800_000_000},    // far behind in serial arithmetic: the clock is newer
	}
	for _, tc := range tests {
		if got := nextSerial(tc.last, now); got != tc.want || tc.last != 0 && !serialNewer(got, tc.last) {
			t.Errorf("nextSerial(%d) = %d, want %d", tc.last, got, tc.want)
		}
	}
}

// catalogBenchGeneration is a generation of -zones served zones (at least
// 100,000) with its catalog.
func catalogBenchGeneration(b *testing.B) (*MXZone, *generation) {
	n := max(*benchZones, 100000)
	g := &generation{zones: make(map[string]*entry, n)}
	z := &version{}
	for i := range n {
		o := "customer" + strconv.Itoa(i) + ".example."
		g.zones[o] = &entry{origin: o, zone: z}
	}
	m := &MXZone{catalog: newCatalog("catalog.invalid.")}
	m.startCatalog(g)
	return m, g
}

// BenchmarkCatalogBuild builds the catalog of every served zone, as at start.
func BenchmarkCatalogBuild(b *testing.B) {
	_, g := catalogBenchGeneration(b)
	b.ReportAllocs()
	for b.Loop() {
		buildCatalog("catalog.invalid.", 1, catalogMembers(g))
	}
}

// BenchmarkCatalogAddZone updates the catalog after one zone is added, as
// after every new zone file.
func BenchmarkCatalogAddZone(b *testing.B) {
	m, prev := catalogBenchGeneration(b)
	next := &generation{zones: maps.Clone(prev.zones)}
	e := &entry{origin: "new.example.", zone: &version{}}
	next.zones[e.origin] = e
	rep := &report{changes: []*change{{entry: e}}}
	before := m.catalog.cur.Load()
	b.ReportAllocs()
	for b.Loop() {
		m.catalog.cur.Store(before)
		m.queueCatalog(prev, next, rep)
		m.flushCatalog()
	}
	if _, ok := m.catalog.cur.Load().zone.Node(memberID(e.origin) + ".zones." + m.catalog.origin); !ok {
		b.Fatal("the new zone is not in the catalog")
	}
}
