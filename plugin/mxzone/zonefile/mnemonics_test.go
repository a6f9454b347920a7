package zonefile

import (
	"bytes"
	"testing"
)

// FuzzRewrites: whatever a file holds, the rewrites that let miekg/dns read
// what BIND reads never fail and never move a record to another line.
func FuzzRewrites(f *testing.F) {
	for _, seed := range []string{
		"@ DNSKEY 256 3 RSASHA1 AwEAAcMn\n",
		"@ WKS 192.0.2.1 TCP smtp 80 ; c\n",
		"k IPSECKEY 10 3 2 gw.example. AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==\n",
		"loc LOC 40 32 N 105 04 W 1208m ; c\n",
		"$INCLUDE \"a b.inc\" origin.\n",
		"key TXT \"DNSKEY 256 3 RSASHA1\"\n",
		"x RRSIG A 13 2 3600 ( 21220222132804\n 20200101000000 12345 x.example. AwEAAcMn ) ; c\n",
		"@ SVCB 1 example.com. ( ipv6hint=\"::ffff:198.51.100.100\" ) ; c\n",
		"g HTTPS \\# 35 0001076578616d706c6503636f6d000006001000000000000000000000ffffc6336464\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, _ := readable(data)
		if bytes.Count(out, []byte("\n")) != bytes.Count(data, []byte("\n")) {
			t.Fatalf("lines moved:\n%q\n%q", data, out)
		}
	})
}

// TestRewritesWithOwnerNamedLikeType: an owner that spells the record's
// type ("ipseckey IN IPSECKEY ...") is not taken for the type: the record
// is still rewritten, and so is the owner-less one after it.
func TestRewritesWithOwnerNamedLikeType(t *testing.T) {
	const key = "AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ=="
	for _, tc := range []struct {
		name, line, want string
	}{
		{"ipseckey", "ipseckey\t IN IPSECKEY 10 1 2 192.0.2.38 " + key + "\n", "ipseckey\t IN TYPE45 \\# "},
		{"ipseckey, owner-less", "\t\t IN IPSECKEY 10 0 2 .   " + key + "\n", "\t\t IN TYPE45 \\# 37 0a0002"},
		{"wks", "wks IN WKS 192.0.2.1 TCP smtp\n", "wks IN TYPE11 \\# "},
		{"dnskey", "dnskey 3600 DNSKEY 256 3 RSASHA1 AwEAAcMn\n", "dnskey 3600 DNSKEY 256 3 5 AwEAAcMn"},
		{"key", "key KEY 256 3 ED25519 AwEAAcMn\n", "key KEY 256 3 15 AwEAAcMn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := readable([]byte(tc.line))
			if !bytes.HasPrefix(out, []byte(tc.want)) {
				t.Errorf("%q read as %q, want it to start %q", tc.line, out, tc.want)
			}
		})
	}
}

// TestLOCDefaults: RFC 1876 section 3 lets a LOC leave out the seconds, or
// the minutes and the seconds, of either coordinate; each form reads as the
// full one with zeros, and a line that is not a coordinate is left alone.
func TestLOCDefaults(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"a LOC 40 32 N 105 04 W 1208m\n", "a LOC 40 32 0 N 105 04 0 W 1208m\n"},
		{"a LOC 40 32 24.716 N 105 04 W 1208m\n", "a LOC 40 32 24.716 N 105 04 0 W 1208m\n"},
		{"a LOC 40 N 105 W 1208m\n", "a LOC 40 N 105 W 1208m\n"}, // miekg/dns reads this one
		{"a LOC 40 32 24.716 N 105 04 25.770 W 1208m\n", "a LOC 40 32 24.716 N 105 04 25.770 W 1208m\n"},
		{"loc IN LOC 52 22 N 4 53 E 2m ; c\n", "loc IN LOC 52 22 0 N 4 53 0 E 2m ; c\n"},
		{"a LOC ( 40 32\n", "a LOC ( 40 32\n"},
		{"a TXT \"LOC 40 32 N 105 04 W\"\n", "a TXT \"LOC 40 32 N 105 04 W\"\n"},
	} {
		if got := string(locRecords([]byte(tc.line))); got != tc.want {
			t.Errorf("%q read as %q, want %q", tc.line, got, tc.want)
		}
	}
}
