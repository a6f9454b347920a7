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
