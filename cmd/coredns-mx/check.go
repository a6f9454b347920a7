package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"
)

// Exit codes of the checker.
const (
	exitClean  = 0 // no zone has errors (warnings allowed)
	exitErrors = 1 // at least one zone would not be served
	exitUsage  = 2 // bad command line or unreadable path
)

// checkUsage is the checker's synopsis.
const checkUsage = `usage: coredns-mx check [--format text|json] [--conf COREFILE] [--rule NAME=fail|warn|ignore]... PATH...
       coredns-mx check [flags] --origin NAME FILE|- [PATH...]
       coredns-mx check [flags] --zones DIR [--origin NAME] FILE|-`

// runCheck implements "coredns-mx check".
func runCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("check", flag.ContinueOnError)
	fl.SetOutput(stderr)
	format := fl.String("format", "text", "output format: text or json")
	conf := fl.String("conf", "", "take the rule severities and limits from the mxzone block of this Corefile")
	origin := fl.String("origin", "", "the zone of FILE, or of standard input (-), which need not be named ORIGIN.zone; "+
		"it stands for that zone's file in the PATHs after it")
	policy, limits := mxzone.DefaultPolicy(), mxzone.DefaultLimits()
	var protect []string
	zones := fl.String("zones", "", "the served zone directory: check one new version of a zone (FILE or -) as if it "+
		"replaced its file there, and report only what it would cause")
	var rules []string // applied after --conf, whatever the order of the flags
	fl.Func("rule", "a rule's severity, NAME=fail|warn|ignore, as in the Corefile (repeatable; over --conf)", func(s string) error {
		rules = append(rules, s)
		return setRule(&mxzone.Policy{}, s)
	})
	fl.Usage = func() {
		fmt.Fprintln(stderr, checkUsage)
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
	if *conf != "" {
		set, err := mxzone.FromCorefile(*conf)
		if err != nil {
			fmt.Fprintf(stderr, "check: --conf: %v\n", err)
			return exitUsage
		}
		policy, limits, protect = set.Policy, set.Limits, set.Protect
	}
	for _, r := range rules {
		setRule(&policy, r) // checked when the flag was read
	}
	paths := fl.Args()
	if *zones != "" && len(paths) != 1 {
		fmt.Fprintln(stderr, "check: --zones DIR takes one FILE or - (with --origin NAME)")
		return exitUsage
	}
	var shown map[string]string // a temporary file -> the name the user gave
	if *origin != "" {
		file, display, cleanup, err := asZoneFile(*origin, paths[0], stdin, limits.FileBytes)
		if err != nil {
			fmt.Fprintf(stderr, "check: %v\n", err)
			return exitUsage
		}
		defer cleanup()
		paths[0], shown = file, map[string]string{file: display}
	} else if slices.Contains(paths, "-") {
		fmt.Fprintln(stderr, "check: standard input (-) needs --origin NAME")
		return exitUsage
	}
	check := mxzone.Check
	switch {
	case *zones != "":
		check = func(paths []string, p mxzone.Policy, l mxzone.Limits) (*mxzone.CheckResult, error) {
			return mxzone.CheckEdit(*zones, paths[0], p, l, protect)
		}
	case *origin != "":
		check = func(paths []string, p mxzone.Policy, l mxzone.Limits) (*mxzone.CheckResult, error) {
			return mxzone.CheckReplacing(paths[0], paths[1:], p, l)
		}
	}
	res, err := check(paths, policy, limits)
	if err != nil {
		fmt.Fprintf(stderr, "check: %v\n", err)
		return exitUsage
	}
	rename(res, shown)
	if err := report(res, *format, stdout); err != nil {
		fmt.Fprintf(stderr, "check: %v\n", err)
		return exitUsage
	}
	if res.Errors() > 0 {
		return exitErrors
	}
	return exitClean
}

// setRule applies one --rule NAME=SEVERITY.
func setRule(p *mxzone.Policy, s string) error {
	name, word, ok := strings.Cut(s, "=")
	rule, known := mxzone.RuleByName(name)
	sev, valid := mxzone.ParseSeverity(word)
	switch {
	case !ok:
		return fmt.Errorf("%q is not NAME=fail|warn|ignore", s)
	case !known:
		return fmt.Errorf("unknown rule %q", name)
	case !valid:
		return fmt.Errorf("unknown severity %q for %s: fail, warn or ignore", word, name)
	}
	p.Rules[rule] = sev
	return nil
}

// asZoneFile copies the zone text of path (or of stdin for "-") into a new
// temporary directory as ORIGIN.zone, so that it is read exactly as the
// server reads a zone file. It returns that file, the name to show for it
// and what removes it. At most max bytes are read: the server's file limit.
func asZoneFile(origin, path string, stdin io.Reader, max int64) (file, display string, cleanup func(), err error) {
	name := strings.ToLower(strings.TrimSuffix(origin, ".")) + ".zone"
	if _, err := zonefile.Origin(name); err != nil || strings.ContainsAny(name, "/\\") {
		return "", "", nil, fmt.Errorf("--origin %q is not a zone name", origin)
	}
	in, display := stdin, "-"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", "", nil, err
		}
		defer f.Close()
		in, display = f, path
	}
	data, err := io.ReadAll(io.LimitReader(in, max+1))
	if err != nil {
		return "", "", nil, fmt.Errorf("read %s: %w", display, err)
	}
	if int64(len(data)) > max {
		return "", "", nil, fmt.Errorf("%s is larger than the zone file limit of %d bytes", display, max)
	}
	dir, err := os.MkdirTemp("", "coredns-mx-check-")
	if err != nil {
		return "", "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	file = filepath.Join(dir, name)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		cleanup()
		return "", "", nil, err
	}
	return file, display, cleanup, nil
}

// rename shows the files in shown by the names the user gave.
func rename(res *mxzone.CheckResult, shown map[string]string) {
	for i, f := range res.Findings {
		if name, ok := shown[f.File]; ok {
			res.Findings[i].File = name
		}
	}
	for i, z := range res.Zones {
		if name, ok := shown[z.File]; ok {
			res.Zones[i].File = name
		}
	}
}

// report prints the findings as text or JSON.
func report(res *mxzone.CheckResult, format string, stdout io.Writer) error {
	if format == "json" {
		findings := res.Findings
		if findings == nil {
			findings = []mxzone.Finding{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(findings)
	}
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
	return out.Flush()
}
