package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone"

	"github.com/miekg/dns"
)

const dynamicUsage = "usage: coredns-mx dynamic [--conf Corefile] [--drop] ZONE"

// runDynamic runs "coredns-mx dynamic": for a control panel that takes over
// the changes UPDATE made to a zone, the zone as served without its DNSSEC
// records (write it to the zone file: the dynamic changes are then the
// file's); with --drop, the nsupdate script that undoes them (the zone then
// serves what its file says). It reads the zone file and the journal only.
func runDynamic(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("dynamic", flag.ContinueOnError)
	fl.SetOutput(stderr)
	conf := fl.String("conf", "Corefile", "the Corefile whose mxzone block takes the updates")
	drop := fl.Bool("drop", false, "print the nsupdate script that undoes the dynamic changes")
	fl.Usage = func() {
		fmt.Fprintln(stderr, dynamicUsage)
		fmt.Fprintln(stderr, "Prints the zone as served (its file with the changes made by UPDATE), or with --drop the nsupdate script that undoes those changes.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return exitUsage
	}
	if fl.NArg() != 1 {
		fl.Usage()
		return exitUsage
	}
	set, err := mxzone.FromCorefile(*conf)
	if err != nil {
		fmt.Fprintf(stderr, "dynamic: --conf: %v\n", err)
		return exitUsage
	}
	origin := strings.ToLower(dns.Fqdn(fl.Arg(0)))
	records, delta, err := mxzone.DynamicZone(set, origin)
	if err != nil {
		fmt.Fprintf(stderr, "dynamic: %v\n", err)
		return 1
	}
	if *drop {
		fmt.Fprintf(stdout, "zone %s\n", origin)
		if delta != nil {
			for _, rr := range delta.Add {
				fmt.Fprintf(stdout, "update delete %s\n", rr)
			}
			for _, rr := range delta.Del {
				fmt.Fprintf(stdout, "update add %s\n", rr)
			}
		}
		fmt.Fprintln(stdout, "send")
		return 0
	}
	n := 0
	if delta != nil {
		n = len(delta.Del) + len(delta.Add)
	}
	fmt.Fprintf(stdout, "; %s as served: its file with %d changes made by UPDATE\n$ORIGIN %s\n", origin, n, origin)
	for _, rr := range records {
		fmt.Fprintln(stdout, rr)
	}
	return 0
}
