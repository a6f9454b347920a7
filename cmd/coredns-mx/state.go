package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone"

	"github.com/miekg/dns"
)

const stateUsage = "usage: coredns-mx state forget [--conf Corefile] ZONE..."

// runState runs "coredns-mx state forget": the operator's way to drop a
// zone's saved copy on purpose. A protected zone whose file is missing
// keeps serving from its copy until then; a zone whose new file is refused
// serves its copy after a restart unless it is forgotten.
func runState(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "forget" {
		fmt.Fprintln(stderr, stateUsage)
		return exitUsage
	}
	fl := flag.NewFlagSet("state forget", flag.ContinueOnError)
	fl.SetOutput(stderr)
	conf := fl.String("conf", "Corefile", "the Corefile whose mxzone block names the state directory")
	fl.Usage = func() {
		fmt.Fprintln(stderr, stateUsage)
		fmt.Fprintln(stderr, "Removes the saved copies (and signed copies) of the zones from the state directory. A protected zone whose\n"+
			"file is missing stops serving at the server's next full scan; any other zone's copy is not served after the next restart.")
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
		fmt.Fprintf(stderr, "state: --conf: %v\n", err)
		return exitUsage
	}
	if set.State == "" {
		fmt.Fprintf(stderr, "state: %s has no state directory (state DIR in the mxzone block): there are no saved copies\n", *conf)
		return exitUsage
	}
	status := 0
	for _, arg := range fl.Args() {
		origin := strings.ToLower(dns.Fqdn(arg))
		if _, ok := dns.IsDomainName(origin); !ok {
			fmt.Fprintf(stderr, "state: %q is not a zone name\n", arg)
			status = exitUsage
			continue
		}
		had, err := mxzone.ForgetCopy(set.State, origin)
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "state: %s: %v\n", origin, err)
			status = 1
		case had:
			fmt.Fprintf(stdout, "%s: saved copy removed from %s\n", origin, set.State)
		default:
			fmt.Fprintf(stdout, "%s: no saved copy in %s\n", origin, set.State)
		}
	}
	return status
}
