package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/rollover"

	"github.com/miekg/dns"
)

const dnssecUsage = `usage: coredns-mx dnssec ds [--conf Corefile] [--dnskey] ZONE...
       coredns-mx dnssec status [--conf Corefile] [--json] ZONE...
       coredns-mx dnssec roll [--conf Corefile] [--key csk|ksk|zsk] [--algorithm ALG] ZONE...
       coredns-mx dnssec submitted [--conf Corefile] ZONE...`

// runDNSSEC runs the dnssec commands, on the key store of the Corefile's
// mxzone block:
//   - ds: the DS records (SHA-256, RFC 4509) the parent is to have now, to
//     give the registrar; with --dnskey the DNSKEY records published;
//   - status: each key's use, the rollover in progress and its next step;
//   - roll: a rollover now (of the CSK, or --key in a split, or to another
//     --algorithm), taken by the running server within a second;
//   - submitted: the parent serves the new DS (for a parent no server of
//     the policy's parent_servers can be asked).
//
// None makes a key: a zone not yet signed is an error.
func runDNSSEC(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, dnssecUsage)
		return exitUsage
	}
	cmd := args[0]
	fl := flag.NewFlagSet("dnssec "+cmd, flag.ContinueOnError)
	fl.SetOutput(stderr)
	conf := fl.String("conf", "Corefile", "the Corefile whose mxzone block signs the zones")
	dnskey := fl.Bool("dnskey", false, "ds: print the DNSKEY records instead of the DS records")
	asJSON := fl.Bool("json", false, "status: print JSON, as the status API has it")
	key := fl.String("key", "", "roll: the key to roll: csk, ksk or zsk (default: the CSK, or both keys' algorithm with --algorithm)")
	alg := fl.String("algorithm", "", "roll: move to this algorithm: ecdsap256sha256 or ed25519")
	fl.Usage = func() {
		fmt.Fprintln(stderr, dnssecUsage)
		fl.PrintDefaults()
	}
	switch cmd {
	case "ds", "status", "roll", "submitted":
	default:
		fl.Usage()
		return exitUsage
	}
	if err := fl.Parse(args[1:]); err != nil {
		return exitUsage
	}
	if fl.NArg() == 0 {
		fl.Usage()
		return exitUsage
	}
	req, err := rollRequest(cmd, *key, *alg)
	if err != nil {
		fmt.Fprintf(stderr, "dnssec %s: %v\n", cmd, err)
		return exitUsage
	}
	set, err := mxzone.FromCorefile(*conf)
	if err != nil {
		fmt.Fprintf(stderr, "dnssec %s: --conf: %v\n", cmd, err)
		return exitUsage
	}
	if set.KeyDir == "" {
		fmt.Fprintf(stderr, "dnssec %s: %s: the mxzone block has no dnssec property: no zone is signed\n", cmd, *conf)
		return exitUsage
	}
	status := 0
	for _, name := range fl.Args() {
		if _, ok := dns.IsDomainName(name); !ok {
			fmt.Fprintf(stderr, "dnssec %s: %q is not a domain name\n", cmd, name)
			status = exitErrors
			continue
		}
		origin := dns.CanonicalName(name)
		keys, err := mxzone.KeyStatus(set.KeyDir, origin)
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "dnssec %s: %v (run it as the user the server runs as)\n", cmd, err)
			status = exitErrors
			continue
		case len(keys.Keys) == 0:
			fmt.Fprintf(stderr, "dnssec %s: %s has no key yet: the server makes one when it first serves the zone signed\n", cmd, origin)
			status = exitErrors
			continue
		}
		switch cmd {
		case "ds":
			printDS(stdout, keys, *dnskey, set.KeyDir, origin)
		case "status":
			printStatus(stdout, origin, keys, *asJSON)
		default:
			if req.Kind == rollover.RollCSK && split(keys) {
				fmt.Fprintf(stderr, "dnssec roll: %s has a KSK and a ZSK: say which with --key ksk or --key zsk\n", origin)
				status = exitErrors
				continue
			}
			if err := mxzone.RequestKeys(set.KeyDir, origin, req); err != nil {
				fmt.Fprintf(stderr, "dnssec %s: %s: %v\n", cmd, origin, err)
				status = exitErrors
				continue
			}
			fmt.Fprintf(stdout, "%s: asked; the server takes it within a second (its log says so, and dnssec status shows it)\n", origin)
		}
	}
	return status
}

// rollRequest is the request of roll or submitted.
func rollRequest(cmd, key, alg string) (rollover.Request, error) {
	var req rollover.Request
	switch cmd {
	case "submitted":
		req.Submitted = true
	case "roll":
		if alg != "" {
			a, ok := map[string]uint8{"ecdsap256sha256": dns.ECDSAP256SHA256, "ed25519": dns.ED25519}[strings.ToLower(alg)]
			if !ok {
				return req, fmt.Errorf("--algorithm %q is not supported; use ecdsap256sha256 or ed25519", alg)
			}
			req.Algorithm = a
			if key != "" {
				return req, fmt.Errorf("--algorithm rolls every key: leave --key out")
			}
			return req, nil
		}
		kind, ok := map[string]rollover.Kind{"": rollover.RollCSK, "csk": rollover.RollCSK, "ksk": rollover.RollKSK, "zsk": rollover.RollZSK}[key]
		if !ok {
			return req, fmt.Errorf("--key %q: use csk, ksk or zsk", key)
		}
		req.Kind = kind
	}
	return req, nil
}

// split reports whether the zone's keys in service are a KSK and a ZSK.
func split(keys *mxzone.ZoneKeys) bool {
	for _, k := range keys.Keys {
		if k.Use != "retired" && k.Role != "csk" {
			return true
		}
	}
	return false
}

// printDS prints what the parent is to have now: the DS of each submitted
// key (or, with dnskey, the DNSKEY records published).
func printDS(w io.Writer, keys *mxzone.ZoneKeys, dnskey bool, keyDir, origin string) {
	if dnskey {
		for _, rr := range mxzone.PublishedKeys(keyDir, origin) {
			fmt.Fprintln(w, rr.String())
		}
		return
	}
	for _, k := range keys.Keys {
		if k.DS != "" && strings.Contains(k.Use, "submitted") {
			fmt.Fprintln(w, k.DS)
		}
	}
}

// printStatus prints keys of origin for a reader, or as JSON.
func printStatus(w io.Writer, origin string, keys *mxzone.ZoneKeys, asJSON bool) {
	if asJSON {
		b, _ := json.MarshalIndent(map[string]any{"zone": origin, "keys": keys}, "", "  ")
		fmt.Fprintln(w, string(b))
		return
	}
	fmt.Fprintf(w, "%s: %s\n", origin, keys.Rollover)
	for _, k := range keys.Keys {
		line := fmt.Sprintf("  %s %5d %-15s %s", k.Role, k.Tag, k.Algorithm, k.Use)
		if k.RemoveAt != nil {
			line += ", removed at " + k.RemoveAt.Format("2006-01-02 15:04:05 MST")
		}
		fmt.Fprintln(w, line)
	}
	switch {
	case keys.NextStep != "" && keys.NextAt != nil:
		fmt.Fprintf(w, "  next: %s, at %s\n", keys.NextStep, keys.NextAt.Format("2006-01-02 15:04:05 MST"))
	case keys.NextStep != "":
		fmt.Fprintf(w, "  next: %s\n", keys.NextStep)
	case keys.NextAt != nil:
		fmt.Fprintf(w, "  next: a key's lifetime or removal, at %s\n", keys.NextAt.Format("2006-01-02 15:04:05 MST"))
	}
}
