package zonefile

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns-mx/coredns-mx/internal/zonetest"

	"github.com/miekg/dns"
)

// TestRecordLines pins what the line tracker reports: the line on which each
// record starts, also for records spread over several lines and after
// comments, blank lines, quotes with semicolons and $INCLUDE.
func TestRecordLines(t *testing.T) {
	dir := writeZones(t, map[string]string{
		"lines.example.zone": `; comment
$TTL 3600
@ SOA ns1 host (
      1 7200 ; serial and refresh
      3600 1209600 300 )

@ NS ns1
ns1 A 192.0.2.1
txt TXT "a ; not a comment" "b"
  TXT "owner omitted"
$INCLUDE inc/part.inc
www A 192.0.2.2
`,
		"inc/part.inc": "; fragment\n\nmail A 192.0.2.3\n",
	})
	res := readZone(t, dir, "lines.example.zone", "lines.example.")
	recs := res.Records
	want := []struct {
		file string
		line int
	}{{"lines.example.zone", 3}, {"lines.example.zone", 7}, {"lines.example.zone", 8}, {"lines.example.zone", 9},
		{"lines.example.zone", 10}, {"inc/part.inc", 3}, {"lines.example.zone", 12}}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for i, w := range want {
		if recs[i].Line != w.line || recs[i].File != filepath.Join(dir, w.file) {
			t.Errorf("record %d (%s): %s:%d, want %s:%d", i, recs[i].RR.Header().Name, recs[i].File, recs[i].Line, w.file, w.line)
		}
	}
	if len(res.Includes) != 1 || res.Includes[0].Rel != "inc/part.inc" {
		t.Errorf("includes %v", res.Includes)
	}
}

func TestOrigin(t *testing.T) {
	tests := []struct {
		name, want string
	}{
		{"example.com.zone", "example.com."},
		{"Example.COM.zone", "example.com."},
		{"xn--bcher-kva.example.zone", "xn--bcher-kva.example."},
		{".zone", ""},
		{"example.com.zone.bak", ""},
		{"a..b.zone", ""},
		{"example.com..zone", ""},                   // an empty label: not example.com.
		{`ex\097mple.com.zone`, "example.com."},     // \097 is "a"
		{`EX\065MPLE.com.zone`, "example.com."},     // \065 is "A": case does not matter either
		{`a\.b.example.zone`, ""},                   // a dot inside a label: no zone name
		{`example.com\..zone`, ""},                  // the last label ends in an escaped dot
		{`"><img src=x onerror=alert(1)>.zone`, ""}, // quotes, spaces, angle brackets
		{"tab\there.example.zone", ""},              // a control byte
		{`a\032b.example.zone`, ""},                 // an escaped space
		{"_dmarc-reports.example.zone", "_dmarc-reports.example."},
		{strings.Repeat("a", 64) + ".example.zone", ""}, // a label of 64 bytes
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Origin(tc.name)
			if (err != nil) != (tc.want == "") || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			// Canonical: exactly the name a provider's tooling writes.
			if canonical := tc.want != "" && tc.name == strings.TrimSuffix(tc.want, ".")+".zone"; Canonical(tc.name, got) != canonical {
				t.Fatalf("Canonical(%q) = %v, want %v", tc.name, !canonical, canonical)
			}
		})
	}
}

// readZone reads the zone file rel of dir with origin, failing the test
// on any error.
func readZone(t *testing.T, dir, rel, origin string) *Result {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	res, err := Read(Source{Root: root, DirFD: -1, Dir: dir, Rel: rel, Origin: origin, MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func writeZones(t *testing.T, files map[string]string) string { return zonetest.Dir(t, files) }

// TestNoTTL: a file without $TTL whose records carry no TTL, as BIND reads
// it (RFC 2308 section 4): they take the SOA MINIMUM, with or without a
// class on each record, and a record after one with a TTL takes that TTL
// (RFC 1035 section 5.1).
func TestNoTTL(t *testing.T) {
	dir := writeZones(t, map[string]string{"x.example.zone": `@ IN SOA ns1 host 1 7200 3600 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.53
www A 192.0.2.1
ttl 600 A 192.0.2.2
after A 192.0.2.3
`})
	res := readZone(t, dir, "x.example.zone", "x.example.")
	want := map[string]uint32{"x.example.": 300, "ns1.x.example.": 300, "www.x.example.": 300,
		"ttl.x.example.": 600, "after.x.example.": 600}
	for _, r := range res.Records {
		if h := r.RR.Header(); h.Ttl != want[h.Name] {
			t.Errorf("%s %s: TTL %d, want %d", h.Name, dns.TypeToString[h.Rrtype], h.Ttl, want[h.Name])
		}
	}
	if res.NoTTL != 4 || res.FirstNoTTL.Line != 1 {
		t.Fatalf("NoTTL %d from line %d, want 4 from line 1", res.NoTTL, res.FirstNoTTL.Line)
	}
}

// TestIncludeOrigin: "$INCLUDE FILE ORIGIN" reads FILE relative to ORIGIN
// (RFC 1035 section 5.1), and the origin after it is the one before; FILE
// may be quoted, with a blank inside, as BIND reads it.
func TestIncludeOrigin(t *testing.T) {
	for _, tc := range []struct{ include, file string }{
		{"sub.inc", "sub.inc"},
		{`"quoted name.inc"`, "quoted name.inc"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			dir := writeZones(t, map[string]string{
				"x.example.zone": "$TTL 3600\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\n$INCLUDE " + tc.include +
					" sub.x.example. ; a comment\nafter A 192.0.2.9\n",
				tc.file: "www A 192.0.2.7\n",
			})
			res := readZone(t, dir, "x.example.zone", "x.example.")
			var names []string
			for _, r := range res.Records {
				names = append(names, r.RR.Header().Name)
			}
			if want := []string{"x.example.", "x.example.", "www.sub.x.example.", "after.x.example."}; !slices.Equal(names, want) {
				t.Fatalf("owners %v, want %v", names, want)
			}
			if res.Records[3].Line != 5 || len(res.Includes) != 1 || res.Includes[0].Rel != tc.file {
				t.Fatalf("line %d, includes %v", res.Records[3].Line, res.Includes)
			}
		})
	}
}

// TestKeyAlgorithmMnemonics: RFC 4034 section 2.2 lets a DNSKEY's algorithm
// be written as its mnemonic; the record is read as with the number, on its
// own line.
func TestKeyAlgorithmMnemonics(t *testing.T) {
	dir := writeZones(t, map[string]string{"x.example.zone": "$TTL 3600\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\n" +
		"@ DNSKEY 256 3 RSASHA1 AwEAAcMnWBKLuvG/LwnPVykcmpvnntwxfshHlHRhlY0F3oz8AMcuF8gw9McCw+BoC2YxWaiTpNPuxjSNhUlBtcnSM= ; a key\n" +
		"key TXT \"DNSKEY 256 3 RSASHA1\"\nafter A 192.0.2.1\n"})
	res := readZone(t, dir, "x.example.zone", "x.example.")
	var key *dns.DNSKEY
	for _, r := range res.Records {
		if k, ok := r.RR.(*dns.DNSKEY); ok {
			key = k
			if r.Line != 4 {
				t.Errorf("DNSKEY at line %d, want 4", r.Line)
			}
		}
		if txt, ok := r.RR.(*dns.TXT); ok && txt.Txt[0] != "DNSKEY 256 3 RSASHA1" {
			t.Errorf("text changed: %q", txt.Txt)
		}
	}
	if key == nil || key.Algorithm != dns.RSASHA1 || len(res.Records) != 5 {
		t.Fatalf("key %v, %d records", key, len(res.Records))
	}
}

// TestWKS: WKS records (RFC 1035 section 3.4.2) are read as the data they
// are, in RFC 3597 form, with ports by number or service name.
func TestWKS(t *testing.T) {
	dir := writeZones(t, map[string]string{"x.example.zone": "$TTL 3600\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\n" +
		"@ WKS 192.0.2.1 TCP smtp 80 ; mail and web\nafter A 192.0.2.2\n"})
	res := readZone(t, dir, "x.example.zone", "x.example.")
	var wks dns.RR
	for _, r := range res.Records {
		if r.RR.Header().Rrtype == 11 {
			wks = r.RR
			if r.Line != 4 {
				t.Errorf("WKS at line %d, want 4", r.Line)
			}
		}
	}
	// 192.0.2.1, TCP (6), bits 25 and 80 set in an 11-byte map.
	want := "\\# 16 c0000201" + "06" + "00000040" + "000000000000" + "80"
	if wks == nil || !strings.HasSuffix(wks.String(), want) || len(res.Records) != 4 {
		t.Fatalf("WKS %v, want rdata %s; %d records", wks, want, len(res.Records))
	}
}

// TestIPSECKEY: RFC 4025 section 3's examples, with no gateway and with one,
// are one record each; the next line is the next record.
func TestIPSECKEY(t *testing.T) {
	dir := writeZones(t, map[string]string{"x.example.zone": "$TTL 3600\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\n" +
		"k IPSECKEY 10 0 2 . AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==\n" +
		"g IPSECKEY 10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==\nafter A 192.0.2.9\n"})
	res := readZone(t, dir, "x.example.zone", "x.example.")
	var lines []int
	for _, r := range res.Records {
		lines = append(lines, r.Line)
	}
	if !slices.Equal(lines, []int{2, 3, 4, 5, 6}) {
		t.Fatalf("records at lines %v, want one a line", lines)
	}
	// The record without a gateway is the IPSECKEY it says, in wire form.
	want, _ := dns.NewRR("k.x.example. 3600 IN IPSECKEY 10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==")
	if k := res.Records[2].RR; k.Header().Rrtype != dns.TypeIPSECKEY || !strings.HasSuffix(k.String(), "AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==") {
		t.Fatalf("got %v; want the key of %v", k, want)
	}
}

// TestRRSIGDatesAfter2106: RFC 4034 section 3.1.5: an RRSIG's expiration and
// inception are 32-bit values modulo 2^32, in serial arithmetic, also for
// dates after 2106, on one line or across lines in parentheses.
func TestRRSIGDatesAfter2106(t *testing.T) {
	dir := writeZones(t, map[string]string{"x.example.zone": "$TTL 3600\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\n" +
		"a RRSIG A 13 2 3600 21220222132804 20200101000000 12345 x.example. AwEAAcMn\n" +
		"b RRSIG A 13 2 3600 (\n\t21220222132804 ; expiration\n\t21220101000000 12345 x.example. AwEAAcMn )\n" +
		"c RRSIG A 13 2 3600 20300101000000 20200101000000 12345 x.example. AwEAAcMn\n"})
	res := readZone(t, dir, "x.example.zone", "x.example.")
	at := func(s string) uint32 {
		tm, err := time.Parse("20060102150405", s)
		if err != nil {
			t.Fatal(err)
		}
		return uint32(tm.Unix()) // modulo 2^32
	}
	want := map[string][2]uint32{
		"a.x.example.": {at("21220222132804"), at("20200101000000")},
		"b.x.example.": {at("21220222132804"), at("21220101000000")},
		"c.x.example.": {at("20300101000000"), at("20200101000000")},
	}
	lines := map[string]int{"a.x.example.": 4, "b.x.example.": 5, "c.x.example.": 8}
	for _, r := range res.Records {
		sig, ok := r.RR.(*dns.RRSIG)
		if !ok {
			continue
		}
		if w := want[sig.Hdr.Name]; sig.Expiration != w[0] || sig.Inception != w[1] || r.Line != lines[sig.Hdr.Name] {
			t.Errorf("%s at line %d: expiration %d inception %d, want %d %d at line %d",
				sig.Hdr.Name, r.Line, sig.Expiration, sig.Inception, w[0], w[1], lines[sig.Hdr.Name])
		}
	}
}

// TestSVCBMappedHint_RFC9460_AppendixD: an ipv6hint with an IPv4-mapped
// address (RFC 9460 appendix D) is read as the wire form the appendix gives,
// as SVCB or HTTPS, on its line; in RFC 3597 form (as the state copies write
// it) the same; a record the file itself writes as TYPE65534 keeps its type.
func TestSVCBMappedHint_RFC9460_AppendixD(t *testing.T) {
	wire := "0001" + "076578616d706c6503636f6d00" + "0006" + "0010" + "00000000000000000000ffffc6336464"
	dir := writeZones(t, map[string]string{"example.com.zone": "$TTL 3600\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\n" +
		"@ SVCB 1 example.com. ( ipv6hint=\"::ffff:198.51.100.100\" ) ; RFC 9460 D.2\n" +
		"h HTTPS 1 example.com. alpn=h2 ipv6hint=2001:db8::1,::ffff:192.0.2.1\n" +
		"g SVCB \\# 35 " + wire + "\n" +
		"p TYPE65534 \\# 2 0001\n" +
		"plain SVCB 1 . ipv6hint=2001:db8::1\n"})
	res := readZone(t, dir, "example.com.zone", "example.com.")
	got := map[string]string{}
	for _, r := range res.Records {
		h := r.RR.Header()
		text := r.RR.String()[len(h.String()):]
		if i := strings.Index(text, `\#`); i >= 0 {
			text = text[i:]
		}
		got[h.Name] = fmt.Sprintf("%d %d %s", r.Line, h.Rrtype, text)
	}
	for name, want := range map[string]string{
		"example.com.":       "4 64 \\# 35 " + wire,
		"h.example.com.":     "5 65 \\# 58 0001076578616d706c6503636f6d00" + "000100030268320006002020010db8000000000000000000000001" + "00000000000000000000ffffc0000201",
		"g.example.com.":     "6 64 \\# 35 " + wire,
		"p.example.com.":     "7 65534 \\# 2 0001",
		"plain.example.com.": "8 64 1 . ipv6hint=\"2001:db8::1\"",
	} {
		if got[name] != want && !(name == "example.com." && strings.HasPrefix(got[name], "2 6 ")) {
			t.Errorf("%s: got %q, want %q", name, got[name], want)
		}
	}
}

// TestBitmapsInOrder: the types of an NSEC, NSEC3 or CSYNC record listed
// out of order, or twice, read in order, once each, and pack.
func TestBitmapsInOrder(t *testing.T) {
	dir := writeZones(t, map[string]string{"x.example.zone": "$TTL 3600\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\n" +
		"a NSEC b.x.example. RRSIG MX A NSEC A\n" +
		"0p9mhaveqvm6t7vbl5lop2u3t2rp3tom NSEC3 1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr SOA NS NSEC3PARAM RRSIG DNSKEY\n" +
		"@ CSYNC 1 3 AAAA A NS\n"})
	res := readZone(t, dir, "x.example.zone", "x.example.")
	want := map[uint16][]uint16{
		dns.TypeNSEC:  {dns.TypeA, dns.TypeMX, dns.TypeRRSIG, dns.TypeNSEC},
		dns.TypeNSEC3: {dns.TypeNS, dns.TypeSOA, dns.TypeRRSIG, dns.TypeDNSKEY, dns.TypeNSEC3PARAM},
		dns.TypeCSYNC: {dns.TypeA, dns.TypeNS, dns.TypeAAAA},
	}
	seen := 0
	for _, r := range res.Records {
		var got []uint16
		switch rr := r.RR.(type) {
		case *dns.NSEC:
			got = rr.TypeBitMap
		case *dns.NSEC3:
			got = rr.TypeBitMap
		case *dns.CSYNC:
			got = rr.TypeBitMap
		default:
			continue
		}
		seen++
		if typ := r.RR.Header().Rrtype; !slices.Equal(got, want[typ]) {
			t.Errorf("%s types %v, want %v", dns.TypeToString[typ], got, want[typ])
		}
		if _, err := dns.PackRR(r.RR, make([]byte, 512), 0, nil, false); err != nil {
			t.Errorf("%v does not pack: %v", r.RR, err)
		}
	}
	if seen != 3 {
		t.Fatalf("%d records with type bitmaps, want 3", seen)
	}
}
