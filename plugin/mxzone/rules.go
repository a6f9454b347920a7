package mxzone

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/quote"
)

// Rule names one validation rule. Each can be set to fail, warn or ignore in
// the Corefile, except RuleSyntax: a file that does not parse is never served.
type Rule int

// The validation rules, in the order the README lists them.
const (
	RuleSyntax        Rule = iota // the file is readable and parses (RFC 1035 §5)
	RuleMXCNAME                   // exchange is, or owns, a CNAME (RFC 2181 §10.3, RFC 5321 §5.1)
	RuleMXAddress                 // exchange in a served zone has no A/AAAA
	RuleMXIP                      // exchange is an IP address literal (RFC 5321 §5.1)
	RuleNullMX                    // null MX not alone or not preference 0 (RFC 7505 §3)
	RuleIntegrity                 // SOA at apex, CNAME and other data, duplicates
	RuleIsolation                 // owners outside the origin, $INCLUDE outside DIR
	RuleMXHostname                // exchange is not a host name (RFC 1123 §2.1, RFC 5321 §2.3.5)
	RuleMXReachable               // exchange's addresses cannot be reached (RFC 6890)
	RuleSPF                       // SPF records (RFC 7208)
	RuleSPFLookups                // SPF DNS look-up limits (RFC 7208 §4.6.4)
	RuleSPFPermissive             // SPF that lets anyone send (RFC 7208 §4.7)
	RuleDMARC                     // DMARC records (RFC 7489)
	RuleDMARCReports              // DMARC report destinations (RFC 7489 §7.1)
	RuleDKIM                      // DKIM keys (RFC 6376 §3.6.1, RFC 8301, RFC 8463)
	RuleMTASTS                    // MTA-STS records (RFC 8461 §3.1)
	RuleTLSRPT                    // TLS-RPT records (RFC 8460 §3)
	RuleTLSA                      // TLSA records (RFC 6698 §2.1, RFC 7672)
	numRules
)

var ruleNames = [numRules]string{
	RuleSyntax:    "syntax",
	RuleMXCNAME:   "mx_target_cname",
	RuleMXAddress: "mx_target_address",
	RuleMXIP:      "mx_target_ip",
	RuleNullMX:    "null_mx",
	RuleIntegrity: "zone_integrity",
	RuleIsolation: "tenant_isolation",

	RuleMXHostname:    "mx_target_hostname",
	RuleMXReachable:   "mx_target_reachable",
	RuleSPF:           "spf",
	RuleSPFLookups:    "spf_lookups",
	RuleSPFPermissive: "spf_permissive",
	RuleDMARC:         "dmarc",
	RuleDMARCReports:  "dmarc_reports",
	RuleDKIM:          "dkim",
	RuleMTASTS:        "mta_sts",
	RuleTLSRPT:        "tls_rpt",
	RuleTLSA:          "tlsa",
}

func (r Rule) String() string { return ruleNames[r] }

// MarshalText makes rules print by name in JSON.
func (r Rule) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a rule by name, as MarshalText writes it.
func (r *Rule) UnmarshalText(b []byte) error {
	for i, name := range ruleNames {
		if name == string(b) {
			*r = Rule(i)
			return nil
		}
	}
	return fmt.Errorf("unknown rule %q", b)
}

// ruleByName returns the configurable rule called name.
func ruleByName(name string) (Rule, bool) {
	for r := RuleMXCNAME; r < numRules; r++ {
		if ruleNames[r] == name {
			return r, true
		}
	}
	return 0, false
}

// Severity is what a finding does to its zone.
type Severity int

// Severities, from the least to the most serious.
const (
	SeverityIgnore Severity = iota // configured away: not reported
	SeverityInfo                   // reported by check only: nothing wrong, but not verified
	SeverityWarn                   // reported; the zone is served
	SeverityFail                   // reported; the zone is not served
)

var severityNames = [...]string{"ignore", "info", "warning", "error"}

func (s Severity) String() string { return severityNames[s] }

// MarshalText makes severities print by name in JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity by name, as MarshalText writes it.
func (s *Severity) UnmarshalText(b []byte) error {
	i := slices.Index(severityNames[:], string(b))
	if i < 0 {
		return fmt.Errorf("unknown severity %q", b)
	}
	*s = Severity(i)
	return nil
}

// parseSeverity reads a Corefile severity word.
func parseSeverity(word string) (Severity, bool) {
	switch word {
	case "fail":
		return SeverityFail, true
	case "warn":
		return SeverityWarn, true
	case "ignore":
		return SeverityIgnore, true
	}
	return 0, false
}

// Policy holds the configured severity of every rule, and whether infos are
// kept.
type Policy struct {
	Rules [numRules]Severity
	// Notes keeps the findings of severity info. The checker shows them; the
	// server never logs them and would only hold them in every zone's
	// findings, so it does not make them.
	Notes bool
}

// DefaultPolicy fails on every rule but dmarc_reports, which warns: a
// report destination that does not take the reports loses no mail.
func DefaultPolicy() Policy {
	var p Policy
	for i := range p.Rules {
		p.Rules[i] = SeverityFail
	}
	p.Rules[RuleDMARCReports] = SeverityWarn
	return p
}

// Finding is one problem in one zone file, with the line of the record that
// caused it.
type Finding struct {
	File     string   `json:"file"`
	Line     int      `json:"line"` // 0: the file as a whole
	Zone     string   `json:"zone"`
	Owner    string   `json:"owner"`
	Rule     Rule     `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`

	cross bool // found by the cross-zone checks: computed again when other zones change
}

// String prints the finding as FILE:LINE: severity: owner: message (rule).
func (f Finding) String() string {
	return f.File + ":" + strconv.Itoa(f.Line) + ": " + f.Severity.String() + ": " + quote.Cut(f.Owner, maxOwnerText) + ": " + quote.Text(f.Message) +
		" (" + f.Rule.String() + ")"
}

// findings collects the findings of one zone under a policy.
type findings struct {
	policy *Policy
	zone   string
	list   []Finding
}

// add records a finding for rule at file:line unless the rule is ignored.
func (fs *findings) add(rule Rule, file string, line int, owner, format string, args ...any) {
	sev := fs.policy.Rules[rule]
	if rule == RuleSyntax {
		sev = SeverityFail
	}
	fs.addSeverity(rule, sev, file, line, owner, format, args...)
}

// advise records an advisory finding of rule at the severity sev (warning
// or info) whatever the rule's configured severity, unless the rule is
// ignored.
func (fs *findings) advise(rule Rule, sev Severity, file string, line int, owner, format string, args ...any) {
	if fs.policy.Rules[rule] == SeverityIgnore {
		return
	}
	fs.addSeverity(rule, min(sev, fs.policy.Rules[rule]), file, line, owner, format, args...)
}

// addSeverity records a finding with an explicit severity.
func (fs *findings) addSeverity(rule Rule, sev Severity, file string, line int, owner, format string, args ...any) {
	if sev == SeverityIgnore || sev == SeverityInfo && !fs.policy.Notes {
		return
	}
	fs.list = append(fs.list, Finding{
		File: file, Line: line, Zone: fs.zone, Owner: quote.Cut(printable(owner), maxOwnerText),
		Rule: rule, Severity: sev, Message: quote.Sprintf(format, args...),
	})
}

// printable escapes the bytes of s outside printable ASCII as \DDD, the zone
// file way (quote.Printable).
func printable(s string) string { return quote.Printable(s) }

// maxOwnerText bounds an owner name as a finding prints it: a name is at
// most 255 octets, but escaped it can be four times as long.
const maxOwnerText = 300

// failed reports whether any finding stops the zone from being served.
func failed(list []Finding) bool {
	return slices.ContainsFunc(list, func(f Finding) bool { return f.Severity == SeverityFail })
}

// RuleByName returns the configurable rule called name, as the Corefile and
// `check --rule` spell it.
func RuleByName(name string) (Rule, bool) { return ruleByName(name) }

// ParseSeverity reads a configured severity: fail, warn or ignore.
func ParseSeverity(word string) (Severity, bool) { return parseSeverity(word) }
