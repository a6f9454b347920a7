package mailauth

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"net/netip"
	"strings"
	"testing"
)

// want is what a table case expects: no problem at the level Error or
// Warning when msg is "", else one at level containing msg.
type want struct {
	level Level
	msg   string
}

func check(t *testing.T, text string, ps []Problem, w want) {
	t.Helper()
	if w.msg == "" {
		for _, p := range ps {
			if p.Level != Info {
				t.Fatalf("%q: unexpected problem %+v", text, p)
			}
		}
		return
	}
	for _, p := range ps {
		if p.Level == w.level && strings.Contains(p.Msg, w.msg) {
			if p.At >= 0 && (p.At > len(text) || p.End > len(text) || p.End < p.At) {
				t.Fatalf("%q: span %d-%d outside the text", text, p.At, p.End)
			}
			return
		}
	}
	t.Fatalf("%q: no problem of level %d containing %q; got %+v", text, w.level, w.msg, ps)
}

func TestSPF(t *testing.T) {
	tests := []struct {
		name, text string
		want
	}{
		{"minimal (RFC 7208 section 4.5)", "v=spf1 -all", want{}},
		{"every mechanism (RFC 7208 section 5)", "v=spf1 a mx/24 a:mail.example.com/24//64 ip4:192.0.2.0/24 " +
			"ip6:2001:db8::/32 include:_spf.example.net exists:%{i}._spf.%{d} ?ptr:example.org ~all", want{Warning, "ptr"}},
		{"macros in exp (RFC 7208 section 7.3)", "v=spf1 -all exp=explain._spf.%{d}", want{}},
		{"redirect (RFC 7208 section 6.1)", "v=spf1 redirect=_spf.example.net", want{}},
		{"unknown modifier is ignored (RFC 7208 section 6)", "v=spf1 foo=bar -all", want{}},
		{"glued version (RFC 7208 section 4.5)", "v=spf1include:x.example -all", want{Error, "followed by a space"}},
		{"leading space (RFC 7208 section 4.5)", " v=spf1 -all", want{Error, "followed by a space"}},
		{"unknown mechanism (RFC 7208 section 5)", "v=spf1 inclde:_spf.example.net -all", want{Error, "unknown mechanism \"inclde\""}},
		{"bare domain (RFC 7208 section 5)", "v=spf1 _spf.example.net -all", want{Error, "include:_spf.example.net"}},
		{"ip4 prefix too long (RFC 7208 section 5.6)", "v=spf1 ip4:192.0.2.0/33 -all", want{Error, "longer than 32"}},
		{"ip6 in ip4 (RFC 7208 section 5.6)", "v=spf1 ip4:2001:db8::1 -all", want{Error, "write ip6:"}},
		{"ip4 in ip6 (RFC 7208 section 5.6)", "v=spf1 ip6:192.0.2.1 -all", want{Error, "write ip4:"}},
		{"leading zero prefix (RFC 7208 section 5.6)", "v=spf1 ip4:192.0.2.0/024 -all", want{Error, "not a number"}},
		{"bad dual cidr (RFC 7208 section 5.6)", "v=spf1 a//129 -all", want{Error, "longer than 128"}},
		{"include without domain (RFC 7208 section 5.2)", "v=spf1 include: -all", want{Error, "needs a domain"}},
		{"domain without top label (RFC 7208 section 7.1)", "v=spf1 include:example -all", want{Error, "top-level label"}},
		{"numeric top label (RFC 7208 section 7.1)", "v=spf1 a:192.0.2.1 -all", want{Error, "top-level label"}},
		{"bad macro (RFC 7208 section 7.1)", "v=spf1 exists:%{x}.example.com -all", want{Error, "macro"}},
		{"exp letter outside exp (RFC 7208 section 7.3)", "v=spf1 exists:%{c}.example.com -all", want{Error, "macro"}},
		{"redirect twice (RFC 7208 section 6)", "v=spf1 redirect=a.example redirect=b.example", want{Error, "appears twice"}},
		{"exp twice (RFC 7208 section 6)", "v=spf1 -all exp=a.example exp=b.example", want{Error, "appears twice"}},
		{"all with argument (RFC 7208 section 5.1)", "v=spf1 all:example.com", want{Error, "no argument"}},
		{"terms after all (RFC 7208 section 5.1)", "v=spf1 -all include:_spf.example.net", want{Warning, "never evaluated"}},
		{"all with redirect (RFC 7208 section 6.1)", "v=spf1 ~all redirect=_spf.example.net", want{Warning, "ignored"}},
		{"ptr (RFC 7208 section 5.5)", "v=spf1 ptr -all", want{Warning, "ptr"}},
		{"too long (RFC 7208 section 3.4)", "v=spf1 " + strings.Repeat("ip4:192.0.2.1 ", 40) + "-all", want{Warning, "octets"}},
		{"mapped address in ip6 (RFC 7208 section 5.6)", "v=spf1 ip6:::ffff:192.0.2.1 -all", want{Error, "IPv4-mapped"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := ParseSPF(tc.text)
			check(t, tc.text, ps, tc.want)
		})
	}
}

func TestSPFLookups(t *testing.T) {
	tests := []struct {
		text string
		want int
	}{
		{"v=spf1 -all", 0},
		{"v=spf1 a mx ptr exists:%{i}.x.example include:a.example ip4:192.0.2.1 -all", 5},
		{"v=spf1 mx redirect=_spf.example.net", 2},
		{"v=spf1 mx -all redirect=_spf.example.net", 1}, // redirect ignored beside all
	}
	for _, tc := range tests {
		spf, _ := ParseSPF(tc.text)
		if got := spf.Lookups(); got != tc.want {
			t.Errorf("%q: %d look-ups, want %d", tc.text, got, tc.want)
		}
	}
}

func TestSPFSelection(t *testing.T) {
	for text, wantIs := range map[string]bool{"v=spf1": true, "V=SPF1 -all": true, "v=spf1 -all": true,
		"v=spf10 -all": false, "v=spf1-all": false, "spf2.0/pra": false} {
		if IsSPF(text) != wantIs {
			t.Errorf("IsSPF(%q) = %v", text, !wantIs)
		}
	}
	for text, wantNear := range map[string]bool{"v=spf1-all": true, "\"v=spf1 -all\"": true, " v=spf1 -all": true,
		"v = spf1 -all": true, "v=spf1 -all": false, "google-site-verification=x": false, "v=DMARC1": false} {
		if NearSPF(text) != wantNear {
			t.Errorf("NearSPF(%q) = %v", text, !wantNear)
		}
	}
}

func TestBreakHint(t *testing.T) {
	text, breaks := Join([]string{"v=spf1 ip4:192.0.2.1", "-all"})
	_, ps := ParseSPF(text)
	if len(ps) == 0 {
		t.Fatal("no problem in a record whose strings run together")
	}
	if h := BreakHint(text, breaks, ps[0]); !strings.Contains(h, "strings 1 and 2") {
		t.Errorf("hint %q does not name the break", h)
	}
	text, breaks = Join([]string{"v=spf1 include:_spf.exa", "mple.net -all"})
	if _, ps := ParseSPF(text); len(ps) != 0 {
		t.Errorf("a name split across strings is one name (RFC 7208 section 3.3): %+v", ps)
	}
	if text != "v=spf1 include:_spf.example.net -all" || len(breaks) != 1 || breaks[0] != 23 {
		t.Errorf("Join = %q %v", text, breaks)
	}
}

func TestDMARC(t *testing.T) {
	tests := []struct {
		name, text string
		want
	}{
		{"minimal (RFC 7489 section 6.3)", "v=DMARC1; p=none", want{}},
		{"full (RFC 7489 section 6.3)", "v=DMARC1; p=reject; sp=quarantine; np=reject; rua=mailto:d@example.com," +
			"mailto:x@example.net!10m; ruf=mailto:f@example.com; adkim=s; aspf=r; fo=0:d; pct=100; rf=afrf; ri=86400;", want{}},
		{"bad policy (RFC 7489 section 6.3)", "v=DMARC1; p=rejct", want{Error, "did you mean \"reject\""}},
		{"bad sp (RFC 7489 section 6.3)", "v=DMARC1; p=none; sp=all", want{Error, "sp= must be"}},
		{"bad np (RFC 9091 section 4.1)", "v=DMARC1; p=none; np=yes", want{Error, "RFC 9091"}},
		{"tag twice (RFC 7489 section 6.3)", "v=DMARC1; p=none; p=reject", want{Error, "appears twice"}},
		{"version not first (RFC 7489 section 6.3)", "p=reject; v=DMARC1", want{Error, "first tag"}},
		{"version lower case (RFC 7489 section 6.3)", "v=dmarc1; p=reject", want{Error, "exactly"}},
		{"no policy (RFC 7489 section 6.6.3)", "v=DMARC1; rua=mailto:d@example.com", want{Warning, "no p= tag"}},
		{"rua without mailto (RFC 7489 section 6.2)", "v=DMARC1; p=none; rua=d@example.com", want{Warning, "write mailto:d@example.com"}},
		{"rua over https (RFC 7489 section 6.2)", "v=DMARC1; p=none; rua=https://example.com/r", want{Warning, "only to mailto"}},
		{"bad adkim (RFC 7489 section 6.3)", "v=DMARC1; p=none; adkim=strict", want{Warning, "relaxed"}},
		{"bad pct (RFC 7489 section 6.3)", "v=DMARC1; p=none; pct=150", want{Warning, "0 to 100"}},
		{"bad fo (RFC 7489 section 6.3)", "v=DMARC1; p=none; fo=2", want{Warning, "fo="}},
		{"bad ri (RFC 7489 section 6.3)", "v=DMARC1; p=none; ri=daily", want{Warning, "ri="}},
		{"bad rf (RFC 7489 section 6.3)", "v=DMARC1; p=none; rf=json", want{Warning, "afrf"}},
		{"unknown tag (RFC 7489 section 6.3)", "v=DMARC1; p=none; foo=bar", want{Info, "not defined"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := ParseDMARC(tc.text)
			check(t, tc.text, ps, tc.want)
		})
	}
	d, _ := ParseDMARC("v=DMARC1; p=Reject; rua=mailto:a@Reports.Example.NET!10m,mailto:b@example.com")
	if d.Policy != "reject" || len(d.Reports) != 2 || d.Reports[0].Domain != "reports.example.net" {
		t.Errorf("ParseDMARC = %+v", d)
	}
}

// rsaKey is an RSA public key of bits bits, base64 DER as DKIM publishes
// it; the key is a stand-in (its modulus is not a product of primes).
func rsaKey(t *testing.T, bits int, pkcs1 bool) string {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.Add(n, big.NewInt(1))
	pub := &rsa.PublicKey{N: n, E: 65537}
	der := x509.MarshalPKCS1PublicKey(pub)
	if !pkcs1 {
		var err error
		if der, err = x509.MarshalPKIXPublicKey(pub); err != nil {
			t.Fatal(err)
		}
	}
	return base64.StdEncoding.EncodeToString(der)
}

func TestDKIM(t *testing.T) {
	rsa2048 := rsaKey(t, 2048, false)
	ed := base64.StdEncoding.EncodeToString(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey))
	tests := []struct {
		name, text string
		want
	}{
		{"RSA 2048 (RFC 6376 section 3.6.1)", "v=DKIM1; k=rsa; p=" + rsa2048, want{}},
		{"RSA as PKCS#1 (RFC 6376 section 3.6.1)", "v=DKIM1; p=" + rsaKey(t, 2048, true), want{}},
		{"key with spaces (RFC 6376 section 3.6.1)", "v=DKIM1; p=" + rsa2048[:100] + " " + rsa2048[100:], want{}},
		{"Ed25519 (RFC 8463 section 4.2)", "v=DKIM1; k=ed25519; p=" + ed, want{}},
		{"no p (RFC 6376 section 3.6.1)", "v=DKIM1; k=rsa", want{Error, "no p= tag"}},
		{"version not first (RFC 6376 section 3.6.1)", "k=rsa; v=DKIM1; p=" + rsa2048, want{Error, "first tag"}},
		{"version wrong (RFC 6376 section 3.6.1)", "v=DKIM2; p=" + rsa2048, want{Error, "DKIM1"}},
		{"not base64 (RFC 6376 section 3.6.1)", "v=DKIM1; p=abc$def", want{Error, "not valid base64"}},
		{"key cut short (RFC 6376 section 3.6.1)", "v=DKIM1; p=" + rsa2048[:200], want{Error, "cut short"}},
		{"Ed25519 wrong size (RFC 8463 section 4.2)", "v=DKIM1; k=ed25519; p=" + rsa2048, want{Error, "32 octets"}},
		{"RSA under 1024 (RFC 8301 section 3.2)", "v=DKIM1; p=" + rsaKey(t, 512, false), want{Error, "under 1024"}},
		{"RSA 1024 (RFC 8301 section 3.2)", "v=DKIM1; p=" + rsaKey(t, 1024, false), want{Warning, "at least 2048"}},
		{"unknown k (RFC 6376 section 3.6.1)", "v=DKIM1; k=dsa; p=" + rsa2048, want{Error, "rsa or ed25519"}},
		{"SHA-1 only (RFC 8301 section 3.1)", "v=DKIM1; h=sha1; p=" + rsa2048, want{Warning, "SHA-1"}},
		{"not for email (RFC 6376 section 3.6.1)", "v=DKIM1; s=tlsrpt; p=" + rsa2048, want{Warning, "not for email"}},
		{"revoked (RFC 6376 section 3.6.1)", "v=DKIM1; p=", want{Info, "revoked"}},
		{"testing (RFC 6376 section 3.6.1)", "v=DKIM1; t=y; p=" + rsa2048, want{Info, "testing"}},
		{"tag twice (RFC 6376 section 3.2)", "v=DKIM1; p=" + rsa2048 + "; p=" + rsa2048, want{Error, "appears twice"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := ParseDKIM(tc.text)
			check(t, tc.text, ps, tc.want)
		})
	}
}

func TestMTASTSAndTLSRPT(t *testing.T) {
	tests := []struct {
		name, text string
		parse      func(string) []Problem
		want
	}{
		{"MTA-STS (RFC 8461 section 3.1)", "v=STSv1; id=20261130T1200;", ParseMTASTS, want{}},
		{"MTA-STS extension (RFC 8461 section 3.1)", "v=STSv1; id=1; ext.x-y_z=value", ParseMTASTS, want{}},
		{"MTA-STS without id (RFC 8461 section 3.1)", "v=STSv1;", ParseMTASTS, want{Error, "no id= field"}},
		{"MTA-STS id too long (RFC 8461 section 3.1)", "v=STSv1; id=" + strings.Repeat("1", 33), ParseMTASTS, want{Error, "1 to 32"}},
		{"MTA-STS id with a dash (RFC 8461 section 3.1)", "v=STSv1; id=2026-11-30", ParseMTASTS, want{Error, "1 to 32"}},
		{"MTA-STS field without value (RFC 8461 section 3.1)", "v=STSv1; id=1; foo", ParseMTASTS, want{Error, "tag=value"}},
		{"TLS-RPT (RFC 8460 section 3)", "v=TLSRPTv1; rua=mailto:tls@example.com,https://r.example.com/v1?x=1", ParseTLSRPT, want{}},
		{"TLS-RPT without rua (RFC 8460 section 3)", "v=TLSRPTv1;", ParseTLSRPT, want{Error, "no rua= field"}},
		{"TLS-RPT rua not a URI (RFC 8460 section 3)", "v=TLSRPTv1; rua=tls@example.com", ParseTLSRPT, want{Error, "mailto: or https:"}},
		{"TLS-RPT rua over http (RFC 8460 section 3)", "v=TLSRPTv1; rua=http://example.com/", ParseTLSRPT, want{Error, "mailto: or https:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check(t, tc.text, tc.parse(tc.text), tc.want)
		})
	}
	for text, is := range map[string]bool{"v=STSv1; id=1": true, "v=STSv1": true, "v=STSv10; id=1": false, "v=stsv1; id=1": false} {
		if IsMTASTS(text) != is {
			t.Errorf("IsMTASTS(%q) = %v", text, !is)
		}
	}
}

func TestTLSA(t *testing.T) {
	spki, _ := x509.MarshalPKIXPublicKey(ed25519.NewKeyFromSeed(make([]byte, 32)).Public())
	tests := []struct {
		name                 string
		usage, sel, matching uint8
		data                 string
		smtp                 bool
		want
	}{
		{"DANE-EE SPKI SHA-256 (RFC 7672 section 3.1.1)", 3, 1, 1, strings.Repeat("ab", 32), true, want{}},
		{"SHA-512 (RFC 6698 section 2.1.3)", 2, 0, 2, strings.Repeat("ab", 64), true, want{}},
		{"exact SPKI (RFC 6698 section 2.1.3)", 3, 1, 0, hex.EncodeToString(spki), true, want{}},
		{"usage 4 (RFC 6698 section 2.1.1)", 4, 1, 1, strings.Repeat("ab", 32), false, want{Error, "usage 4"}},
		{"selector 2 (RFC 6698 section 2.1.2)", 3, 2, 1, strings.Repeat("ab", 32), false, want{Error, "selector 2"}},
		{"matching type 3 (RFC 6698 section 2.1.3)", 3, 1, 3, strings.Repeat("ab", 32), false, want{Error, "matching type 3"}},
		{"SHA-256 cut short (RFC 6698 section 2.1.3)", 3, 1, 1, strings.Repeat("ab", 31), false, want{Error, "31 octets"}},
		{"SHA-256 in SHA-512 (RFC 6698 section 2.1.3)", 3, 1, 2, strings.Repeat("ab", 32), false, want{Error, "64 octets"}},
		{"exact SPKI that does not parse (RFC 6698 section 2.1.3)", 3, 1, 0, "abcd", false, want{Error, "SubjectPublicKeyInfo"}},
		{"exact certificate that does not parse (RFC 6698 section 2.1.3)", 3, 0, 0, "abcd", false, want{Error, "whole certificate"}},
		{"PKIX-EE for SMTP (RFC 7672 section 3.1.3)", 1, 1, 1, strings.Repeat("ab", 32), true, want{Warning, "not for SMTP"}},
		{"PKIX-EE for HTTPS (RFC 6698 section 2.1.1)", 1, 1, 1, strings.Repeat("ab", 32), false, want{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check(t, tc.data, TLSA(tc.usage, tc.sel, tc.matching, tc.data, tc.smtp), tc.want)
		})
	}
}

func TestHostName(t *testing.T) {
	for name, ok := range map[string]bool{"mx1.example.net.": true, "1mx.example.net.": true, "mx-1.example.net.": true,
		"_mx.example.net.": false, "*.example.net.": false, "mx 1.example.net.": false, "-mx.example.net.": false,
		"mx..example.net.": false, "mx\\.1.example.net.": false, ".": false} {
		if got := HostName(name) == ""; got != ok {
			t.Errorf("HostName(%q) = %q", name, HostName(name))
		}
	}
}

func TestClassify(t *testing.T) {
	for addr, want := range map[string]Reach{"127.0.0.1": Unreachable, "::1": Unreachable, "0.0.0.0": Unreachable,
		"169.254.1.1": Unreachable, "fe80::1": Unreachable, "224.0.0.1": Unreachable, "ff02::1": Unreachable,
		"240.0.0.1": Unreachable, "255.255.255.255": Unreachable, "10.0.0.1": Private, "192.168.1.1": Private,
		"fd00::1": Private, "100.64.0.1": Private, "192.0.2.1": Documentation, "2001:db8::1": Documentation,
		"198.51.100.1": Documentation, "203.0.113.1": Documentation, "8.8.8.8": Public, "2a00:1450::1": Public,
		"::ffff:127.0.0.1": Unreachable} {
		if got, _ := Classify(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Classify(%s) = %d, want %d", addr, got, want)
		}
	}
}

func TestGluedTerms(t *testing.T) {
	for _, tc := range []struct {
		strings []string
		want    string
	}{
		{[]string{"v=spf1 include:_spf.example.net", "-all"}, `"include:_spf.example.net-all"`},
		{[]string{"v=spf1 ip4:192.0.2.1", "ip4:192.0.2.2 -all"}, `"ip4:192.0.2.1ip4:192.0.2.2"`},
		{[]string{"v=spf1 a", "mx -all"}, `"amx"`},
		{[]string{"v=spf1 include:_spf.exa", "mple.net -all"}, ""},
		{[]string{"v=spf1 include:_spf.example.net ", "-all"}, ""},
	} {
		text, breaks := Join(tc.strings)
		ps := GluedTerms(text, breaks)
		if tc.want == "" {
			if len(ps) != 0 {
				t.Errorf("%q: %+v", tc.strings, ps)
			}
			continue
		}
		if len(ps) != 1 || !strings.Contains(ps[0].Msg, tc.want) {
			t.Errorf("%q: %+v, want one naming %s", tc.strings, ps, tc.want)
		}
	}
}

// BenchmarkHostileRecords parses the largest records a TXT RDATA holds
// (64 KB) in the shapes that would cost more than their length if a
// parser were careless: thousands of tags, of modifiers, of strings.
// ns/op grows with the size, not with its square.
func BenchmarkHostileRecords(b *testing.B) {
	const size = 65000
	tags := "v=DMARC1" + strings.Repeat("; a=1", size/5)
	redirects := "v=spf1" + strings.Repeat(" redirect=a.example", size/19)
	var pieces []string
	for range size / 250 {
		pieces = append(pieces, strings.Repeat("x", 249)+"i")
	}
	joined, breaks := Join(append([]string{"v=spf1 "}, pieces...))
	b.Run("DMARC tags", func(b *testing.B) {
		for b.Loop() {
			ParseDMARC(tags)
		}
	})
	b.Run("DKIM tags", func(b *testing.B) {
		for b.Loop() {
			ParseDKIM(tags[10:])
		}
	})
	b.Run("SPF modifiers", func(b *testing.B) {
		for b.Loop() {
			ParseSPF(redirects)
		}
	})
	b.Run("SPF strings", func(b *testing.B) {
		for b.Loop() {
			GluedTerms(joined, breaks)
		}
	})
}

func TestNeedsOf(t *testing.T) {
	for text, want := range map[string]SPFNeeds{
		"v=spf1 -all":                            {},
		"v=spf1 mx -all":                         {Lookups: 1, OwnMX: true},
		"v=spf1 a/24 ~mx//64 ip4:192.0.2.1 ?all": {Lookups: 2, OwnA: true, OwnMX: true},
		"v=spf1 a:mail.example.net -all":         {Lookups: 1, Others: true},
		"v=spf1 include:_spf.example.net -all":   {Lookups: 1, Others: true},
		"v=spf1 redirect=_spf.example.net":       {Lookups: 1, Others: true},
		"v=spf1 exists:%{i}.x.example ptr -all":  {Lookups: 2, Others: true},
	} {
		if got := NeedsOf(text); got != want {
			t.Errorf("NeedsOf(%q) = %+v, want %+v", text, got, want)
		}
	}
}
