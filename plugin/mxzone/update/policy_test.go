package update

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestParsePolicyErrors(t *testing.T) {
	const secret = `"aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgMTIzNA=="`
	key := `key k { algorithm hmac-sha256; secret ` + secret + `; };` + "\n"
	for _, c := range []struct {
		name, in, want string
	}{
		{"grant outside the zone", key + "grant k subdomain example.net. TXT;", "z.conf:2: name example.net. is outside the zone example.com."},
		{"grant of DNSSEC records", key + "grant k zonesub DNSKEY;", "z.conf:2: DNSKEY records are made by the server"},
		{"grant of RRSIG", key + "grant k zonesub TXT RRSIG;", "RRSIG records are made by the server"},
		{"unknown type", key + "grant k zonesub BOGUS;", "z.conf:2: unknown record type"},
		{"unknown rule", key + "grant k everything TXT;", "rule type \"everything\""},
		{"grant for a key not defined", "grant other zonesub TXT;", "z.conf:1: grant for key \"other.\""},
		{"md5", `key k { algorithm hmac-md5; secret ` + secret + `; };`, "algorithm \"hmac-md5\""},
		{"bad secret", `key k { algorithm hmac-sha256; secret "!!"; };`, "secret is not base64"},
		{"short secret", `key k { algorithm hmac-sha256; secret "YWJj"; };`, "secret has 3 bytes"},
		{"no secret", `key k { algorithm hmac-sha256; };`, "has no secret"},
		{"key twice", key + key, "z.conf:2: key \"k.\" is defined twice (first at line 1)"},
		{"unclosed", `key k { algorithm hmac-sha256;`, "not closed"},
		{"unclosed string", "key \"k {", "z.conf:1: quoted string is not closed"},
		{"stray word", "hello;", "z.conf:1: unexpected \"hello\""},
		{"wildcard without star", key + "grant k wildcard www.example.com. A;", "wildcard rule needs"},
		{"no semicolon", key + "grant k zonesub TXT", "not ended with ;"},
		{"control byte", "key \x01", "control byte 0x01"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePolicy("z.conf", "example.com.", []byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestAllows(t *testing.T) {
	p, err := ParsePolicy("z.conf", "example.com.", []byte(`
# the ACME client
key "acme" { algorithm hmac-sha256; secret "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgMTIzNA=="; };
update-policy {
	grant acme. name _acme-challenge.example.com. TXT;
	grant *.hosts.example.com. self . A AAAA;
	grant acme wildcard *.dyn.example.com. A;
};
/* a panel
   with everything */
grant acme subdomain shop.example.com.;
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key, owner string
		t          uint16
		want       bool
	}{
		{"acme.", "_acme-challenge.example.com.", dns.TypeTXT, true},
		{"ACME.", "_acme-challenge.example.com.", dns.TypeTXT, true},
		{"acme.", "x._acme-challenge.example.com.", dns.TypeTXT, false},
		{"acme.", "_acme-challenge.example.com.", dns.TypeA, false},
		{"h1.hosts.example.com.", "h1.hosts.example.com.", dns.TypeA, true},
		{"h1.hosts.example.com.", "h2.hosts.example.com.", dns.TypeA, false},
		{"acme.", "a.dyn.example.com.", dns.TypeA, true},
		{"acme.", "b.a.dyn.example.com.", dns.TypeA, true},
		{"acme.", "dyn.example.com.", dns.TypeA, false},
		{"acme.", "www.shop.example.com.", dns.TypeMX, true},
		{"acme.", "shop.example.com.", dns.TypeNS, false}, // a list-less grant leaves NS out, as BIND
		{"acme.", "shop.example.com.", dns.TypeRRSIG, false},
		{"acme.", "shop.example.net.", dns.TypeA, false},
	} {
		if got := p.Allows(c.key, c.owner, c.t); got != c.want {
			t.Errorf("Allows(%s, %s, %s) = %v", c.key, c.owner, dns.TypeToString[c.t], got)
		}
	}
}

// TestParseTsigKeygen reads what BIND's tsig-keygen prints, as an operator
// pastes it.
func TestParseTsigKeygen(t *testing.T) {
	out, err := exec.Command("tsig-keygen", "-a", "hmac-sha512", "acme.example.com").Output()
	if err != nil {
		t.Skipf("tsig-keygen (bind9): %v", err)
	}
	p, err := ParsePolicy("z.conf", "example.com.", append(out, []byte("grant acme.example.com zonesub TXT;\n")...))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if k := p.Key("acme.example.com"); k == nil || k.Algorithm != dns.HmacSHA512 {
		t.Fatalf("key %+v", p.Keys)
	}
}
