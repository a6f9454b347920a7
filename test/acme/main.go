// Command acmeclient obtains a certificate from an ACME server (Pebble, in
// the tests) with the DNS-01 challenge, publishing the TXT records by RFC
// 2136 UPDATE through lego's rfc2136 (dnsupdate) provider, as lego,
// cert-manager and certbot-dns-rfc2136 do. It is a test tool, in a module of
// its own so that lego and Pebble stay out of the server's dependencies.
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/dns01"
	"github.com/go-acme/lego/v5/lego"
	"github.com/go-acme/lego/v5/providers/dns/dnsupdate"
	"github.com/go-acme/lego/v5/registration"
)

type user struct {
	key crypto.Signer
	reg *acme.ExtendedAccount
}

func (u *user) GetEmail() string                       { return "" }
func (u *user) GetRegistration() *acme.ExtendedAccount { return u.reg }
func (u *user) GetPrivateKey() crypto.Signer           { return u.key }

func main() {
	ca := flag.String("ca", "", "the ACME directory URL")
	roots := flag.String("roots", "", "PEM file of the CA that signed the ACME server's HTTPS certificate")
	server := flag.String("dns", "", "the DNS server taking the updates, HOST:PORT")
	key := flag.String("key", "", "TSIG key name")
	alg := flag.String("alg", "hmac-sha256.", "TSIG algorithm")
	secret := flag.String("secret", "", "TSIG secret (base64)")
	domains := flag.String("domains", "", "the names, comma-separated")
	flag.Parse()
	if err := run(*ca, *roots, *server, *key, *alg, *secret, strings.Split(*domains, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "acmeclient:", err)
		os.Exit(1)
	}
}

func run(ca, roots, server, key, alg, secret string, domains []string) error {
	os.Setenv("LEGO_CA_CERTIFICATES", roots)
	// The challenge records are checked at the server itself: there is no
	// resolver here, and it is authoritative for them.
	dns01.SetDefaultClient(dns01.NewClient(&dns01.Options{RecursiveNameservers: []string{server}, Timeout: 5 * time.Second}))
	pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	u := &user{key: pk}
	cfg := lego.NewConfig(u)
	cfg.CADirURL = ca
	client, err := lego.NewClient(cfg)
	if err != nil {
		return err
	}
	provider, err := dnsupdate.NewDNSProviderConfig(&dnsupdate.Config{
		Nameserver: server, TSIGKey: key, TSIGAlgorithm: alg, TSIGSecret: secret, TTL: 60,
		DNSTimeout: 10 * time.Second, PropagationTimeout: 60 * time.Second, PollingInterval: 200 * time.Millisecond,
		SequenceInterval: time.Second,
	})
	if err != nil {
		return err
	}
	if err := client.Challenge.SetDNS01Provider(provider, dns01.DisableAuthoritativeNssPropagationRequirement()); err != nil {
		return err
	}
	ctx := context.Background()
	reg, err := client.Registration.Register(ctx, registration.RegisterOptions{TermsOfServiceAgreed: true})
	if err != nil {
		return err
	}
	u.reg = reg
	res, err := client.Certificate.Obtain(ctx, certificate.ObtainRequest{Domains: domains, Bundle: true, KeyType: certcrypto.EC256})
	if err != nil {
		return err
	}
	fmt.Printf("certificate for %s\n", strings.Join(res.Domains, " "))
	return nil
}
