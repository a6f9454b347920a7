package mxzone

import (
	"fmt"
	"slices"
	"strings"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/mailauth"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"

	"github.com/miekg/dns"
)

// SPF limits a receiver applies (RFC 7208 section 4.6.4).
const (
	spfMaxLookups = 10 // DNS-querying terms, includes and redirects followed
	spfMaxVoid    = 2  // look-ups that find nothing
	spfMaxMX      = 10 // MX records an mx term may look at
	spfWarnAt     = 8  // a count with external parts this high gets a warning
	spfMaxRecords = spfMaxLookups + 2
)

// spfWalk evaluates one SPF record statically, through the includes and
// redirects that lie in served zones, the way a receiver would count.
type spfWalk struct {
	c        *mailCheck
	ref      mailRef
	lookups  int
	void     []string // names whose look-up finds nothing
	external []string // names outside the served zones, or only known when evaluated
	targets  []string // other zones read: an edit of one of them can change the verdict
	stack    []string // the included records being evaluated, outermost first: a loop comes back to one
	records  int
}

// checkSPF checks an SPF record's includes, redirect and look-up counts
// against the served zones.
func (c *mailCheck) checkSPF(ref mailRef) {
	_, record, n := textAt(c.v, ref.owner, mailauth.IsSPF)
	if n != 1 {
		return // none now, or several: the local checks report it
	}
	spf, ps := mailauth.ParseSPF(record)
	if hasMailError(ps) {
		return
	}
	w := &spfWalk{c: c, ref: ref}
	w.record(ref.owner, &spf, "")
	w.verdict()
}

// record goes through the terms of the record of domain, reached by way
// of via ("" for the record itself).
func (w *spfWalk) record(domain string, spf *mailauth.SPF, via string) {
	w.records++
	for t := range spf.Evaluated {
		if !t.Lookup() {
			continue
		}
		w.lookups++
		if w.lookups > spfMaxLookups {
			return // proven over the limit: nothing below changes that
		}
		target := domain
		if t.Domain != "" {
			target = zone.Canonical(dns.Fqdn(t.Domain))
		}
		if t.Macros {
			w.external = append(w.external, t.Name+":"+t.Domain)
			continue
		}
		switch t.Name {
		case "include", "redirect":
			w.follow(t.Name, target, via)
		case "a", "exists":
			w.address(target)
		case "mx":
			w.mx(target, via)
		}
	}
}

// here names the term for a message: where it is, if not in the record
// itself.
func here(term, via string) string {
	if via == "" {
		return term
	}
	return term + " (reached through " + via + ")"
}

// follow evaluates the record an include or redirect names.
func (w *spfWalk) follow(mech, target, via string) {
	term := mech + ":" + strings.TrimSuffix(target, ".")
	if mech == "redirect" {
		term = "redirect=" + strings.TrimSuffix(target, ".")
	}
	origin, tz, m := w.lookup(target)
	if tz == nil {
		w.external = append(w.external, term)
		return
	}
	if target == w.ref.owner || slices.Contains(w.stack, target) {
		w.fail(RuleSPF, "%s loops back to %s, whose record is already being evaluated: receivers return "+
			"permerror (RFC 7208 section 4.6.4)", here(term, via), strings.TrimSuffix(target, "."))
		return
	}
	if m.Kind != zone.Exact && m.Kind != zone.Wildcard && m.Kind != zone.None {
		w.external = append(w.external, term) // delegated or redirected: another server answers
		return
	}
	found, record, n := textAt(tz, target, mailauth.IsSPF)
	rfc := "RFC 7208 section 5.2"
	if mech == "redirect" {
		rfc = "RFC 7208 section 6.1"
	}
	switch {
	case !found:
		w.void = append(w.void, target)
		w.fail(RuleSPF, "%s names %s, which does not exist in zone %s: receivers return permerror (%s)",
			here(term, via), target, origin, rfc)
		return
	case n == 0 && m.Node.Has(dns.TypeCNAME):
		w.external = append(w.external, term)
		return
	case n == 0:
		w.fail(RuleSPF, "%s names %s, which has no SPF record in zone %s: receivers return permerror (%s); "+
			"publish the record there or fix the name", here(term, via), target, origin, rfc)
		return
	case n > 1:
		w.fail(RuleSPF, "%s names %s, which has %d SPF records in zone %s: receivers return permerror "+
			"(RFC 7208 section 3.2)", here(term, via), target, n, origin)
		return
	}
	spf, ps := mailauth.ParseSPF(record)
	if hasMailError(ps) {
		w.fail(RuleSPF, "%s names the SPF record of %s in zone %s, which is invalid, so receivers return permerror "+
			"(%s): %s", here(term, via), target, origin, rfc, firstError(ps))
		return
	}
	if w.records >= spfMaxRecords {
		return
	}
	w.stack = append(w.stack, target)
	next := term
	if via != "" {
		next = via + ", then " + term
	}
	w.record(target, &spf, next)
	w.stack = w.stack[:len(w.stack)-1]
}

func firstError(ps []mailauth.Problem) string {
	for _, p := range ps {
		if p.Level == mailauth.Error {
			return p.Msg
		}
	}
	return ""
}

// lookup finds target in the served zones for a term and notes the zone
// read; tz is nil when no served zone holds it.
func (w *spfWalk) lookup(target string) (origin string, tz *version, m zone.Match) {
	origin, tz = w.c.at(target)
	if tz == nil {
		return origin, nil, m
	}
	if tz != w.c.v {
		w.targets = append(w.targets, origin)
	}
	return origin, tz, tz.Lookup(target)
}

// address evaluates an a or exists term: a name without addresses is a
// void look-up.
func (w *spfWalk) address(target string) {
	_, tz, m := w.lookup(target)
	if tz == nil {
		return
	}
	switch m.Kind {
	case zone.None:
		w.void = append(w.void, target)
	case zone.Exact, zone.Wildcard:
		if !m.Node.HasAddress() && !m.Node.Has(dns.TypeCNAME) {
			w.void = append(w.void, target)
		}
	}
}

// mx evaluates an mx term: no MX is a void look-up, more than 10 is an
// error.
func (w *spfWalk) mx(target, via string) {
	_, tz, m := w.lookup(target)
	if tz == nil {
		return
	}
	if m.Kind != zone.Exact && m.Kind != zone.Wildcard {
		if m.Kind == zone.None {
			w.void = append(w.void, target)
		}
		return
	}
	set, ok := m.Node.Set(dns.TypeMX)
	switch {
	case !ok && !m.Node.Has(dns.TypeCNAME):
		w.void = append(w.void, target)
	case ok && set.Len() > spfMaxMX:
		w.fail(RuleSPFLookups, "%s: %s has %d MX records, and receivers look at no more than %d: they return permerror "+
			"(RFC 7208 section 4.6.4); list the sending hosts with ip4: and ip6: instead", here("mx", via), target,
			set.Len(), spfMaxMX)
	}
}

// fail records an error-level finding of the walk.
func (w *spfWalk) fail(rule Rule, format string, args ...any) {
	w.c.add(w.ref, rule, SeverityFail, w.targets, "SPF record: "+format, args...)
}

// verdict reports the counts.
func (w *spfWalk) verdict() {
	targets := uniqueSorted(w.targets)
	count, ext := fmt.Sprint(w.lookups), ""
	if len(w.external) > 0 {
		count += " + external"
		ext = "; outside the served zones, not counted: " + listNames(w.external)
	}
	switch {
	case w.lookups > spfMaxLookups:
		w.c.add(w.ref, RuleSPFLookups, SeverityFail, targets, "SPF record needs more than %d DNS look-ups "+
			"(include, a, mx, ptr, exists and redirect, through its includes): receivers return permerror "+
			"(RFC 7208 section 4.6.4); replace includes with the ip4: and ip6: ranges they list%s", spfMaxLookups, ext)
	case len(w.external) > 0 && w.lookups >= spfWarnAt:
		w.c.add(w.ref, RuleSPFLookups, SeverityWarn, targets, "SPF record needs %s DNS look-ups of the %d receivers "+
			"allow (RFC 7208 section 4.6.4): the external ones may push it over%s", count, spfMaxLookups, ext)
	case len(w.external) > 0 && w.c.policy.Notes:
		w.c.add(w.ref, RuleSPFLookups, SeverityInfo, targets, "SPF record needs %s DNS look-ups of the %d receivers "+
			"allow (RFC 7208 section 4.6.4)%s", count, spfMaxLookups, ext)
	}
	if len(w.void) > spfMaxVoid {
		w.c.add(w.ref, RuleSPFLookups, SeverityFail, targets, "SPF record makes %d look-ups that find nothing (%s), "+
			"more than the %d receivers allow: they return permerror (RFC 7208 section 4.6.4); remove the terms that "+
			"name them", len(w.void), listNames(w.void), spfMaxVoid)
	}
}

// listNames names the first few of names and counts the rest.
func listNames(names []string) string {
	const shown = 3
	if len(names) <= shown {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:shown], ", "), len(names)-shown)
}
