package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone"
)

// Exit codes of the checker.
const (
	exitClean  = 0 // no zone has errors (warnings allowed)
	exitErrors = 1 // at least one zone would not be served
	exitUsage  = 2 // bad command line or unreadable path
)

// runCheck implements "coredns-mx check [--format text|json] PATH...".
func runCheck(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("check", flag.ContinueOnError)
	fl.SetOutput(stderr)
	format := fl.String("format", "text", "output format: text or json")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: coredns-mx check [--format text|json] PATH...")
		fmt.Fprintln(stderr, "Validates zone files (ORIGIN.zone) or zone directories exactly as the mxzone plugin does;")
		fmt.Fprintln(stderr, "all PATHs are checked together, as one server would serve them.")
		fmt.Fprintln(stderr, "Exit status: 0 no errors (warnings allowed), 1 errors, 2 usage error.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return exitUsage
	}
	if fl.NArg() == 0 || (*format != "text" && *format != "json") {
		fl.Usage()
		return exitUsage
	}
	res, err := mxzone.Check(fl.Args(), mxzone.DefaultPolicy(), mxzone.DefaultLimits())
	if err != nil {
		fmt.Fprintf(stderr, "check: %v\n", err)
		return exitUsage
	}
	if *format == "json" {
		findings := res.Findings
		if findings == nil {
			findings = []mxzone.Finding{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(findings); err != nil {
			fmt.Fprintf(stderr, "check: %v\n", err)
			return exitUsage
		}
	} else {
		out := bufio.NewWriter(stdout) // one write per finding would cost a system call each
		for _, f := range res.Findings {
			fmt.Fprintln(out, f.String())
		}
		served := 0
		for _, z := range res.Zones {
			if z.Served {
				served++
			}
		}
		fmt.Fprintf(out, "%d zone files checked: %d would be served, %d refused; %d errors\n",
			len(res.Zones), served, len(res.Zones)-served, res.Errors())
		if err := out.Flush(); err != nil {
			fmt.Fprintf(stderr, "check: %v\n", err)
			return exitUsage
		}
	}
	if res.Errors() > 0 {
		return exitErrors
	}
	return exitClean
}
