package zonefile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/coredns-mx/coredns-mx/internal/zonegen"
	"github.com/coredns-mx/coredns-mx/internal/zonetest"

	"github.com/miekg/dns"
)

// slowParse is dns.ZoneParser with the line tracker and what the reading
// path adds to it (the rewrites of mnemonics.go, the default TTL): the
// reference the fast path is held to.
func slowParse(t testing.TB, data []byte, origin string) ([]Record, bool) {
	t.Helper()
	tr := &tracker{src: Source{Origin: origin, MaxBytes: 1 << 30}}
	data, _ = readable(data)
	lr := &lineReader{t: tr, data: data, file: "f", line: 1, atStart: true}
	tr.cur = lr
	zp := dns.NewZoneParser(lr, origin, "")
	zp.SetDefaultTTL(unsetTTL)
	var recs []Record
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		recs = append(recs, Record{RR: rr, File: "f", Line: tr.cur.start})
	}
	res := &Result{Records: recs}
	defaultTTLs(res)
	return res.Records, zp.Err() == nil
}

var (
	soaZone  = zonetest.SOA
	provider = zonetest.Provider
)

// sameRecords fails unless fast and slow agree record by record.
func sameRecords(t testing.TB, data []byte, origin string) {
	t.Helper()
	fast, ok := fastParse(data, origin, "f", 0)
	if !ok {
		return
	}
	slow, slowOK := slowParse(t, data, origin)
	if !slowOK {
		t.Fatalf("fast path accepted what dns.ZoneParser rejects:\n%q", data)
	}
	if len(fast) != len(slow) {
		t.Fatalf("fast path: %d records, dns.ZoneParser: %d\n%q", len(fast), len(slow), data)
	}
	for i := range fast {
		if fast[i].RR.String() != slow[i].RR.String() || fast[i].Line != slow[i].Line {
			t.Fatalf("record %d: fast %q line %d, dns.ZoneParser %q line %d\n%q",
				i, fast[i].RR, fast[i].Line, slow[i].RR, slow[i].Line, data)
		}
	}
}

var fastSeeds = []string{
	zonegen.Zone("customer1.example."),
	provider,
	soaZone("x.example.", "@ MX 10 mail", "mail A 192.0.2.1", "*.w TXT \"a b\" \"c\"", "  AAAA 2001:db8::1"),
	"$TTL 300\n@ IN SOA ns host ( 1 ; serial\n 2 3 4\n 5 ) ; end\n@ 60 IN NS ns.\nwww IN 30 A 192.0.2.1\n",
	"@ 60 SOA ns host 1 2 3 4 5\nsub NS ns\n$ORIGIN sub.x.example.\nwww A 192.0.2.2\n@ MX 0 .\n",
	"@ 100 SOA a b 1 2 3 4 5\nx A 192.0.2.1\ny 200 A 192.0.2.2\nz A 192.0.2.3\n$TTL 50\nw A 192.0.2.4\nv 7 A 192.0.2.5\nu A 192.0.2.6\n",
}

func TestFastParseMatchesZoneParser(t *testing.T) {
	for i, seed := range fastSeeds {
		if _, ok := fastParse([]byte(seed), "x.example.", "f", 0); !ok && i < 2 {
			t.Errorf("seed %d not taken by the fast path", i)
		}
		sameRecords(t, []byte(seed), "x.example.")
	}
	files, _ := filepath.Glob("../testdata/answers/*.zone")
	files = append(files, "../../../zones/example.com.zone", "../../../zones/example.net.zone")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		origin := dns.Fqdn(bytes.NewBufferString(filepath.Base(f)).String()[:len(filepath.Base(f))-len(".zone")])
		sameRecords(t, data, origin)
	}
}

func TestFastParseLeavesTheRestToZoneParser(t *testing.T) {
	for _, text := range []string{
		"$INCLUDE other\n", "$GENERATE 1-3 a$ A 192.0.2.$\n", "@ 1h SOA a b 1 2 3 4 5\n",
		"@ 60 SOA a b 1 2 3 4 5\nx CH TXT \"a\"\n", "@ 60 SOA a b 1 2 3 4 5\nx SRV 0 0 25 a.\n",
		"@ 60 SOA a b 1 2 3 4 5\nx\\.y A 192.0.2.1\n", "@ 60 SOA a b 1 2 3 4 5\nx TXT \"a\\\"b\"\n",
		"@ 60 SOA a b 1 2 3 4 5\nx MX ten a.\n", "@ 60 SOA a b 1 2 3 4 5\nx A 2001:db8::1\n", "  A 192.0.2.1\n",
	} {
		if _, ok := fastParse([]byte(text), "x.example.", "f", 0); ok {
			t.Errorf("fast path took %q", text)
		}
	}
}

func FuzzFastParse(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameRecords(t, data, "fuzz.example.")
	})
}

func BenchmarkParse(b *testing.B) {
	data := []byte(zonegen.Zone("customer1.example."))
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := fastParse(data, "customer1.example.", "f", 0); !ok {
				b.Fatal("not fast")
			}
		}
	})
	b.Run("zoneparser", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := slowParse(b, data, "customer1.example."); !ok {
				b.Fatal("failed")
			}
		}
	})
}
