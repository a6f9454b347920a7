package sign

import (
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const testZone = `$TTL 3600
example.com. SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300
example.com. NS ns1.example.com.
example.com. MX 10 mail.example.com.
ns1.example.com. A 192.0.2.53
mail.example.com. A 192.0.2.25
mail.example.com. AAAA 2001:db8::25
*.wild.example.com. A 192.0.2.80
x.y.ent.example.com. TXT "below an empty non-terminal"
sub.example.com. NS ns.sub.example.com.
sub.example.com. DS 12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE5A1D8D86B9F3C7B4E0A2E8C1
ns.sub.example.com. A 192.0.2.54
insecure.example.com. NS ns.elsewhere.example.
old.example.com. RRSIG A 13 3 3600 20300101000000 20200101000000 1 example.com. AAAA
`

func records(t testing.TB, text string) []dns.RR {
	t.Helper()
	zp := dns.NewZoneParser(strings.NewReader(text), "example.com.", "")
	var out []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		out = append(out, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func signTest(t *testing.T, alg uint8, nsec3 bool) []dns.RR {
	t.Helper()
	k, err := NewKey("example.com.", alg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	out, err := Zone("example.com.", records(t, testZone), Combine([]*Key{k}), Options{NSEC3: nsec3,
		Inception: uint32(now.Add(-time.Hour).Unix()), Expiration: uint32(now.Add(14 * 24 * time.Hour).Unix())})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// find returns the records of type t at owner.
func find(rrs []dns.RR, owner string, t uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Name == owner && rr.Header().Rrtype == t {
			out = append(out, rr)
		}
	}
	return out
}

// covered lists the types the RRSIGs at owner cover.
func covered(rrs []dns.RR, owner string) []string {
	var out []string
	for _, rr := range find(rrs, owner, dns.TypeRRSIG) {
		out = append(out, dns.TypeToString[rr.(*dns.RRSIG).TypeCovered])
	}
	return out
}

func TestSignNSEC(t *testing.T) {
	out := signTest(t, dns.ECDSAP256SHA256, false)
	tests := []struct {
		owner, nsecNext, bitmap, sigs string
	}{
		{"example.com.", "x.y.ent.example.com.", "NS SOA MX RRSIG NSEC DNSKEY CDS CDNSKEY", "CDNSKEY CDS DNSKEY MX NS NSEC SOA"},
		{"insecure.example.com.", "mail.example.com.", "NS RRSIG NSEC", "NSEC"},         // a delegation without DS: NS unsigned
		{"sub.example.com.", "*.wild.example.com.", "NS DS RRSIG NSEC", "DS NSEC"},      // the glue below is left out
		{"x.y.ent.example.com.", "insecure.example.com.", "TXT RRSIG NSEC", "NSEC TXT"}, // names in canonical order
		{"*.wild.example.com.", "example.com.", "A RRSIG NSEC", "A NSEC"},               // the chain closes at the apex
		{"ns.sub.example.com.", "", "", ""},                                             // glue: no NSEC, no signature
		{"old.example.com.", "", "", ""},                                                // a customer's RRSIG is not kept
	}
	for _, tc := range tests {
		t.Run(tc.owner, func(t *testing.T) {
			nsec := find(out, tc.owner, dns.TypeNSEC)
			var next, bitmap string
			if len(nsec) == 1 {
				n := nsec[0].(*dns.NSEC)
				next = n.NextDomain
				for _, b := range n.TypeBitMap {
					bitmap += dns.TypeToString[b] + " "
				}
			}
			if next != tc.nsecNext || strings.TrimSpace(bitmap) != tc.bitmap {
				t.Errorf("NSEC next %q bitmap %q, want %q %q", next, bitmap, tc.nsecNext, tc.bitmap)
			}
			got := covered(out, tc.owner)
			slices.Sort(got)
			if strings.Join(got, " ") != tc.sigs {
				t.Errorf("RRSIGs over %q, want %q", got, tc.sigs)
			}
		})
	}
	if cds := find(out, "example.com.", dns.TypeCDS); len(cds) != 1 || cds[0].(*dns.CDS).DigestType != dns.SHA256 {
		t.Errorf("CDS: %v", cds)
	}
}

func TestSignNSEC3(t *testing.T) {
	out := signTest(t, dns.ED25519, true)
	var n3 []*dns.NSEC3
	for _, rr := range out {
		if r, ok := rr.(*dns.NSEC3); ok {
			n3 = append(n3, r)
		}
	}
	// Names: apex, *.wild, wild (ENT), mail, ns1, sub, insecure, x.y.ent, y.ent and ent (ENTs); not glue.
	if len(n3) != 10 {
		t.Fatalf("%d NSEC3 records, want 10", len(n3))
	}
	hash := dns.HashName("y.ent.example.com.", dns.SHA1, 0, "")
	for _, r := range n3 {
		if r.Iterations != 0 || r.Salt != "" || r.Flags != 0 {
			t.Errorf("NSEC3 parameters %d %q %d, want RFC 9276's 0, no salt, no opt-out", r.Iterations, r.Salt, r.Flags)
		}
		if strings.EqualFold(r.Hdr.Name, hash+".example.com.") && len(r.TypeBitMap) != 0 {
			t.Errorf("an empty non-terminal's NSEC3 has types %v", r.TypeBitMap)
		}
	}
	if p := find(out, "example.com.", dns.TypeNSEC3PARAM); len(p) != 1 {
		t.Errorf("NSEC3PARAM: %v", p)
	}
}

// TestSignedZonesVerify: dnssec-verify (BIND) and kzonecheck (Knot) accept
// the signed zone, with NSEC and NSEC3, with both algorithms.
func TestSignedZonesVerify(t *testing.T) {
	verify, kzc := tool(t, "dnssec-verify"), tool(t, "kzonecheck")
	for _, tc := range []struct {
		name  string
		alg   uint8
		nsec3 bool
	}{{"ECDSA NSEC", dns.ECDSAP256SHA256, false}, {"ECDSA NSEC3", dns.ECDSAP256SHA256, true}, {"Ed25519 NSEC3", dns.ED25519, true}} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			for _, rr := range signTest(t, tc.alg, tc.nsec3) {
				b.WriteString(rr.String() + "\n")
			}
			path := filepath.Join(t.TempDir(), "example.com.zone")
			if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(verify, "-z", "-o", "example.com.", path).CombinedOutput(); err != nil {
				t.Errorf("dnssec-verify: %v\n%s", err, out)
			}
			if out, err := exec.Command(kzc, "-o", "example.com.", "--dnssec", "on", path).CombinedOutput(); err != nil {
				t.Errorf("kzonecheck: %v\n%s", err, out)
			}
		})
	}
}

func TestKeyRoundTrip(t *testing.T) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		k, err := NewKey("example.com.", alg)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseKey(k.Marshal(), "test")
		if err != nil {
			t.Fatal(err)
		}
		if back.DNSKEY.String() != k.DNSKEY.String() || string(back.Marshal()) != string(k.Marshal()) {
			t.Errorf("%s: key changed on the way through Marshal and ParseKey", dns.AlgorithmToString[alg])
		}
	}
	if _, err := NewKey("example.com.", dns.RSASHA1); err == nil {
		t.Error("RSASHA1 accepted")
	}
}

// tool finds a program; a test needing it fails under CI=true when it is
// missing, and is skipped elsewhere.
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required (CI=true)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return path
}

func TestStore(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "keys")}
	first, err := s.Keys("Example.COM.", dns.ECDSAP256SHA256)
	if err != nil || len(first) != 1 {
		t.Fatalf("%v %v", first, err)
	}
	again, err := s.Keys("example.com.", dns.ED25519)
	if err != nil || len(again) != 1 || again[0].DNSKEY.String() != first[0].DNSKEY.String() {
		t.Fatalf("the zone's key was not kept: %v %v", again, err)
	}
	files, _ := filepath.Glob(filepath.Join(s.Dir, "example.com.", "*.key"))
	if len(files) != 1 {
		t.Fatalf("key files %v", files)
	}
	for _, p := range []string{files[0], filepath.Dir(files[0])} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v (%v): others can read it", p, fi.Mode(), err)
		}
	}
	// A second key (a rollover) is read beside the first.
	k2, _ := NewKey("example.com.", dns.ED25519)
	if err := writeFile(filepath.Join(filepath.Dir(files[0]), "next.key"), k2.Marshal(), true); err != nil {
		t.Fatal(err)
	}
	if both, err := s.Keys("example.com.", dns.ECDSAP256SHA256); err != nil || len(both) != 2 {
		t.Fatalf("keys %v %v, want two", both, err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(files[0]), "bad.key"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Keys("example.com.", dns.ECDSAP256SHA256); err == nil || !strings.Contains(err.Error(), "bad.key") {
		t.Fatalf("a broken key file: %v", err)
	}
}

// TestStoreReplacesKeyTagZero: a stored key whose tag is 0, which miekg/dns
// cannot sign with (and which therefore never signed anything), is removed
// and replaced by a key that signs.
func TestStoreReplacesKeyTagZero(t *testing.T) {
	k, err := NewKey("example.com.", dns.ECDSAP256SHA256)
	if err != nil {
		t.Fatal(err)
	}
	// Make the public key's last two octets give a tag of 0: the tag is a
	// 16-bit sum (RFC 4034 appendix B), so one pair of them does.
	pub, _ := base64.StdEncoding.DecodeString(k.DNSKEY.PublicKey)
	for v := range 1 << 16 {
		pub[len(pub)-2], pub[len(pub)-1] = byte(v>>8), byte(v)
		k.DNSKEY.PublicKey = base64.StdEncoding.EncodeToString(pub)
		if k.DNSKEY.KeyTag() == 0 {
			break
		}
	}
	if k.DNSKEY.KeyTag() != 0 {
		t.Fatal("no tag 0")
	}
	s := Store{Dir: t.TempDir()}
	dir := filepath.Join(s.Dir, "example.com.")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(filepath.Join(dir, keyFile(k)), k.Marshal(), true); err != nil {
		t.Fatal(err)
	}
	keys, err := s.Keys("example.com.", dns.ECDSAP256SHA256)
	if err != nil || len(keys) != 1 || keys[0].DNSKEY.KeyTag() == 0 {
		t.Fatalf("keys %v, %v: want one new key", keys, err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.key")); len(files) != 1 {
		t.Errorf("key files %v: the tag-0 key should be gone", files)
	}
	if _, err := Zone("example.com.", records(t, testZone), Combine(keys), Options{Inception: 1, Expiration: 2}); err != nil {
		t.Errorf("the new key does not sign: %v", err)
	}
}

// BenchmarkSign is the signing of one zone: a typical customer zone (12
// records, 5 names) and a zone of 20,000 names, NSEC and NSEC3, with and
// without the signatures of an unchanged version to keep.
func BenchmarkSign(b *testing.B) {
	small := "$TTL 3600\n@ SOA ns1.provider.example. host 1 7200 3600 1209600 300\n@ NS ns1.provider.example.\n" +
		"@ NS ns2.provider.example.\n@ MX 10 mx1\n@ MX 20 mx2\nmx1 A 192.0.2.25\nmx1 AAAA 2001:db8::25\n" +
		"mx2 A 198.51.100.25\nmx2 AAAA 2001:db8:1::25\nwww A 192.0.2.80\n@ TXT \"v=spf1 mx -all\"\n_dmarc TXT \"v=DMARC1; p=reject\"\n"
	var big strings.Builder
	big.WriteString("$TTL 3600\n@ SOA ns1.provider.example. host 1 7200 3600 1209600 300\n@ NS ns1.provider.example.\n")
	for i := range 20000 {
		fmt.Fprintf(&big, "h%d A 192.0.2.1\n", i)
	}
	k, err := NewKey("example.com.", dns.ECDSAP256SHA256)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for _, z := range []struct {
		name string
		text string
	}{{"zone=12records", small}, {"zone=20000names", big.String()}} {
		rrs := records(b, z.text)
		for _, nsec3 := range []bool{false, true} {
			opt := Options{NSEC3: nsec3, Inception: uint32(now.Unix()), Expiration: uint32(now.Add(time.Hour).Unix())}
			b.Run(fmt.Sprintf("%s/nsec3=%v", z.name, nsec3), func(b *testing.B) {
				for b.Loop() {
					if _, err := Zone("example.com.", rrs, Combine([]*Key{k}), opt); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
