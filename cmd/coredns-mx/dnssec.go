package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/sign"

	"github.com/miekg/dns"
)

const dnssecUsage = "usage: coredns-mx dnssec ds [--conf Corefile] [--dnskey] ZONE..."

// runDNSSEC runs "coredns-mx dnssec ds": the DS records (SHA-256, RFC
// 4509) of each zone's keys, read from the key store of the Corefile's
// mxzone block, to give the registrar; with --dnskey the DNSKEY records,
// for registries that take those. It makes no key: a zone not yet signed
// is an error.
func runDNSSEC(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "ds" {
		fmt.Fprintln(stderr, dnssecUsage)
		return exitUsage
	}
	fl := flag.NewFlagSet("dnssec ds", flag.ContinueOnError)
	fl.SetOutput(stderr)
	conf := fl.String("conf", "Corefile", "the Corefile whose mxzone block signs the zones")
	dnskey := fl.Bool("dnskey", false, "print the DNSKEY records instead of the DS records")
	fl.Usage = func() {
		fmt.Fprintln(stderr, dnssecUsage)
		fmt.Fprintln(stderr, "Prints the DS records of the zones' signing keys, to give the registrar.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args[1:]); err != nil {
		return exitUsage
	}
	if fl.NArg() == 0 {
		fl.Usage()
		return exitUsage
	}
	set, err := mxzone.FromCorefile(*conf)
	if err != nil {
		fmt.Fprintf(stderr, "dnssec ds: --conf: %v\n", err)
		return exitUsage
	}
	if set.KeyDir == "" {
		fmt.Fprintf(stderr, "dnssec ds: %s: the mxzone block has no dnssec property: no zone is signed\n", *conf)
		return exitUsage
	}
	store := sign.Store{Dir: set.KeyDir}
	status := 0
	for _, name := range fl.Args() {
		if _, ok := dns.IsDomainName(name); !ok {
			fmt.Fprintf(stderr, "dnssec ds: %q is not a domain name\n", name)
			status = exitErrors
			continue
		}
		keys, err := store.Existing(name)
		if err != nil {
			fmt.Fprintf(stderr, "dnssec ds: %v (run it as the user the server runs as)\n", err)
			status = exitErrors
			continue
		}
		if len(keys) == 0 {
			fmt.Fprintf(stderr, "dnssec ds: %s has no key yet: the server makes one when it first serves the zone signed\n",
				dns.Fqdn(name))
			status = exitErrors
			continue
		}
		for _, k := range keys {
			if *dnskey {
				fmt.Fprintln(stdout, k.DNSKEY.String())
				continue
			}
			fmt.Fprintln(stdout, k.DNSKEY.ToDS(dns.SHA256).String())
		}
	}
	return status
}
