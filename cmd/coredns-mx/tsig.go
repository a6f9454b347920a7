package main

import (
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/update"

	"github.com/miekg/dns"
)

const tsigUsage = "usage: coredns-mx tsig [--algorithm hmac-sha256|hmac-sha384|hmac-sha512] [--grant TYPE...] ZONE [KEYNAME]"

// runTsig runs "coredns-mx tsig": a fresh TSIG key for one zone, printed as
// the lines of the zone's policy file (the key statement, as tsig-keygen
// prints it, and a grant) and in the forms the clients take: nsupdate -y,
// knsupdate, lego's RFC2136_* settings and certbot-dns-rfc2136's ini file.
// The secret is 32 random bytes (RFC 8945 section 6: as long as the hash).
func runTsig(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("tsig", flag.ContinueOnError)
	fl.SetOutput(stderr)
	alg := fl.String("algorithm", "hmac-sha256", "the HMAC algorithm")
	grant := fl.String("grant", "TXT", "the types the grant covers, space-separated (ACME DNS-01 needs TXT)")
	fl.Usage = func() {
		fmt.Fprintln(stderr, tsigUsage)
		fmt.Fprintln(stderr, "Prints a new key for ZONE's policy file (POLICYDIR/ZONE.conf), granted the _acme-challenge names, and the client settings.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return exitUsage
	}
	if fl.NArg() < 1 || fl.NArg() > 2 {
		fl.Usage()
		return exitUsage
	}
	zone := strings.ToLower(dns.Fqdn(fl.Arg(0)))
	if _, ok := dns.IsDomainName(zone); !ok || zone == "." {
		fmt.Fprintf(stderr, "tsig: %q is not a zone name\n", fl.Arg(0))
		return exitUsage
	}
	name := "acme." + zone
	if fl.NArg() == 2 {
		name = strings.ToLower(dns.Fqdn(fl.Arg(1)))
	}
	if _, ok := dns.IsDomainName(name); !ok {
		fmt.Fprintf(stderr, "tsig: %q is not a key name\n", fl.Arg(1))
		return exitUsage
	}
	canonical, ok := update.Algorithm(*alg)
	if !ok {
		fmt.Fprintf(stderr, "tsig: unknown algorithm %q\n", *alg)
		return exitUsage
	}
	short := update.AlgorithmName(canonical)
	var types []string
	for _, t := range strings.Fields(*grant) {
		typ, ok := dns.StringToType[strings.ToUpper(t)]
		if !ok || update.ServerOwned(typ) {
			fmt.Fprintf(stderr, "tsig: --grant: %q is not a type a grant can name\n", t)
			return exitUsage
		}
		types = append(types, dns.TypeToString[typ])
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		fmt.Fprintf(stderr, "tsig: %v\n", err)
		return 1
	}
	secret := base64.StdEncoding.EncodeToString(raw)
	bare := strings.TrimSuffix(name, ".")
	fmt.Fprintf(stdout, `# Policy file lines for %[1]s (POLICYDIR/%[2]sconf, mode 0600):
key "%[3]s" {
	algorithm %[4]s;
	secret "%[5]s";
};
grant %[3]s subdomain _acme-challenge.%[1]s %[6]s;

# nsupdate (BIND):       nsupdate -y %[4]s:%[3]s:%[5]s
# knsupdate (Knot):      knsupdate -y %[4]s:%[3]s:%[5]s
# lego (rfc2136):        RFC2136_NAMESERVER=HOST:PORT RFC2136_TSIG_KEY=%[3]s RFC2136_TSIG_ALGORITHM=%[4]s. RFC2136_TSIG_SECRET=%[5]s
# certbot-dns-rfc2136:   dns_rfc2136_server = HOST
#                        dns_rfc2136_port = PORT
#                        dns_rfc2136_name = %[3]s
#                        dns_rfc2136_secret = %[5]s
#                        dns_rfc2136_algorithm = %[7]s
`, zone, zone, bare, short, secret, strings.Join(types, " "), strings.ToUpper(short))
	return 0
}
