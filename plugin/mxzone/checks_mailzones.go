package mxzone

import (
	"slices"
	"strings"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/mailauth"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"

	"github.com/miekg/dns"
	"golang.org/x/net/publicsuffix"
)

// mailKind is what a mailRef points at.
type mailKind uint8

const (
	refSPF   mailKind = iota // an SPF record: its includes, redirect and look-ups
	refDMARC                 // a DMARC record with report destinations
	refSTS                   // an MTA-STS record: its policy host, its domain's MX
	refDANE                  // TLSA records of an SMTP server (_25._tcp.HOST): check notes stray ones
)

// mailRef is a record the cross-zone mail checks read again, with where it
// came from. The record itself lives in the zone, packed.
type mailRef struct {
	owner string
	pos   mxPos
	kind  mailKind
}

// mailRefs finds the records of recs (sorted by owner and type, as
// checkLocal returns them) that the cross-zone mail checks need. An SPF
// record whose look-ups all stay at its own name, which has what they look
// for, needs no more than the local checks gave it ("v=spf1 mx -all" at a
// name with MX records).
func mailRefs(file string, includes []string, recs []zonefile.Record) []mailRef {
	var out []mailRef
	owner, mxs, hasA := "", 0, false
	for _, r := range recs {
		h := r.RR.Header()
		if h.Name != owner {
			owner, mxs, hasA = h.Name, 0, false
		}
		kind := mailKind(255)
		switch rr := r.RR.(type) {
		case *dns.MX:
			mxs++
		case *dns.A:
			hasA = true
		case *dns.TLSA:
			if strings.HasPrefix(owner, smtpLabel) {
				kind = refDANE
			}
		case *dns.TXT:
			kind = txtRef(owner, rr, mxs, hasA)
		}
		if kind != 255 && (len(out) == 0 || out[len(out)-1].owner != owner || out[len(out)-1].kind != kind) {
			out = append(out, mailRef{owner: owner, pos: posOf(file, includes, r), kind: kind})
		}
	}
	return out
}

// txtRef says what the cross-zone checks need of a TXT record (255:
// nothing). mxs and hasA are what its owner has of the types sorted before
// TXT.
func txtRef(owner string, txt *dns.TXT, mxs int, hasA bool) mailKind {
	text, _ := mailauth.Join(txt.Txt)
	switch {
	case strings.HasPrefix(owner, dmarcLabel):
		if mailauth.IsDMARC(text) && (containsFold(text, "rua") || containsFold(text, "ruf")) {
			return refDMARC
		}
	case mailauth.IsSPF(text):
		n := mailauth.NeedsOf(text)
		if n.Others || n.Lookups > spfMaxLookups || n.OwnMX && (mxs == 0 || mxs > spfMaxMX) || n.OwnA && !hasA {
			return refSPF
		}
	case strings.HasPrefix(owner, stsLabel) && mailauth.IsMTASTS(text):
		return refSTS
	}
	return 255
}

// containsFold reports whether s contains the lower-case ASCII word, in
// any case, without making a lower-case copy of s.
func containsFold(s, word string) bool {
	for i := 0; i+len(word) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(word)], word) {
			return true
		}
	}
	return false
}

// mailCheck is one run of the cross-zone mail checks over one version.
type mailCheck struct {
	v      *version
	find   zoneOf
	policy *Policy
	out    []targetFinding
	keys   []string
}

// servedAt finds the version that holds name as the checks of v see it:
// v itself for its own names (whatever is served now), else the served
// version find returns (nil if none is; origin "" if no zone file holds it).
func servedAt(v *version, find zoneOf, name string) (string, *version) {
	origin, tz := find(name)
	if v.Holds(name) && len(origin) <= len(v.Origin()) {
		return v.Origin(), v
	}
	return origin, tz
}

// at is servedAt for this check, recording the dependency: a change of the
// zone that holds name, or of a zone added above it, can change the finding.
func (c *mailCheck) at(name string) (string, *version) {
	origin, tz := servedAt(c.v, c.find, name)
	switch {
	case tz == c.v:
	case tz == nil:
		c.keys = appendSuffixes(c.keys, name)
	default:
		c.keys = append(c.keys, origin)
	}
	return origin, tz
}

// add records a finding of the cross-zone checks, caused by the zones in
// targets.
func (c *mailCheck) add(ref mailRef, rule Rule, sev Severity, targets []string, format string, args ...any) {
	fs := &findings{policy: c.policy, zone: c.v.Origin()}
	if sev == SeverityFail {
		fs.add(rule, c.v.fileOf(ref.pos), int(ref.pos.line), ref.owner, format, args...)
	} else {
		fs.advise(rule, sev, c.v.fileOf(ref.pos), int(ref.pos.line), ref.owner, format, args...)
	}
	for _, f := range fs.list {
		f.cross = true
		c.out = append(c.out, targetFinding{Finding: f, targets: targets})
	}
}

// checkMail runs the cross-zone mail checks of v.
func checkMail(v *version, find zoneOf, policy *Policy) ([]targetFinding, []string) {
	if len(v.mail) == 0 {
		return nil, nil
	}
	c := &mailCheck{v: v, find: find, policy: policy}
	for _, ref := range v.mail {
		switch ref.kind {
		case refSPF:
			c.checkSPF(ref)
		case refDMARC:
			c.checkReports(ref)
		case refSTS:
			c.checkSTS(ref)
		}
	}
	return c.out, c.keys
}

// textAt finds the TXT records at name in tz that is selects: whether the
// name exists, the first such record, and how many there are.
func textAt(tz *version, name string, is func(string) bool) (found bool, first string, n int) {
	m := tz.Lookup(name)
	if m.Kind != zone.Exact && m.Kind != zone.Wildcard {
		return false, "", 0
	}
	set, ok := m.Node.Set(dns.TypeTXT)
	if !ok {
		return true, "", 0
	}
	for text := range set.Texts {
		if is(text) {
			if n == 0 {
				first = text
			}
			n++
		}
	}
	return true, first, n
}

// orgDomain is the organizational domain of name (RFC 7489 section 3.2):
// the public suffix and one label more.
func orgDomain(name string) string {
	n := strings.TrimSuffix(name, ".")
	if org, err := publicsuffix.EffectiveTLDPlusOne(n); err == nil {
		return org
	}
	return n
}

// checkReports checks the report destinations of a DMARC record against
// the zones served here: an external destination must authorize the
// reports (RFC 7489 section 7.1), and every destination must take mail.
func (c *mailCheck) checkReports(ref mailRef) {
	_, record, n := textAt(c.v, ref.owner, mailauth.IsDMARC)
	if n != 1 {
		return // the local checks report it
	}
	d, _ := mailauth.ParseDMARC(record)
	domain := strings.TrimPrefix(ref.owner, dmarcLabel)
	done := map[string]bool{}
	for _, r := range d.Reports {
		dest := zone.Canonical(r.Domain + ".")
		if done[dest] {
			continue
		}
		done[dest] = true
		origin, tz := c.at(dest)
		if tz == nil {
			continue
		}
		if orgDomain(dest) != orgDomain(domain) {
			c.checkAuthorized(ref, r, domain, dest)
		}
		c.checkTakesMail(ref, r, origin, tz, dest)
	}
}

// checkAuthorized looks for DOMAIN._report._dmarc.DEST with v=DMARC1, or
// its wildcard form (RFC 7489 section 7.1).
func (c *mailCheck) checkAuthorized(ref mailRef, r mailauth.ReportURI, domain, dest string) {
	auth := domain + reportLabel[1:] + dest
	if _, ok := dns.IsDomainName(auth); !ok || len(auth) > 255 {
		return
	}
	origin, tz := c.at(auth)
	if tz == nil {
		return
	}
	if _, _, n := textAt(tz, auth, mailauth.IsDMARC); n > 0 {
		return
	}
	c.add(ref, RuleDMARCReports, SeverityFail, []string{origin},
		"%s=%s sends reports to another organization's domain, %s, which does not accept them: zone %s has no "+
			"\"v=DMARC1\" TXT record at %s (or *._report._dmarc.%s), so receivers send no reports there "+
			"(RFC 7489 section 7.1)", r.Tag, r.Address, strings.TrimSuffix(dest, "."), origin, auth, dest)
}

// checkTakesMail reports a report address whose domain is served here and
// receives no mail.
func (c *mailCheck) checkTakesMail(ref mailRef, r mailauth.ReportURI, origin string, tz *version, dest string) {
	why := takesNoMail(tz, dest)
	if why == "" {
		return
	}
	c.add(ref, RuleDMARCReports, SeverityFail, []string{origin},
		"%s=%s: %s in zone %s, so the reports cannot be delivered (RFC 7489 section 7.1)", r.Tag, r.Address, why, origin)
}

// takesNoMail says why name in tz receives no mail, or "": it does not
// exist, it has a null MX (RFC 7505), or it has neither MX nor address
// (RFC 5321 section 5.1).
func takesNoMail(tz *version, name string) string {
	m := tz.Lookup(name)
	switch m.Kind {
	case zone.None:
		return name + " does not exist"
	case zone.Exact, zone.Wildcard:
	default:
		return ""
	}
	n := m.Node
	if set, ok := n.Set(dns.TypeMX); ok {
		rrs := set.RRs()
		if len(rrs) == 1 && rrs[0].(*dns.MX).Mx == "." {
			return name + " has a null MX: it takes no mail"
		}
		return ""
	}
	if n.HasAddress() || n.Has(dns.TypeCNAME) {
		return ""
	}
	return name + " has neither MX nor address records"
}

// checkSTS checks what an MTA-STS record needs beside itself (RFC 8461):
// its domain takes mail, and the policy host mta-sts.DOMAIN has an address.
func (c *mailCheck) checkSTS(ref mailRef) {
	domain := strings.TrimPrefix(ref.owner, stsLabel)
	if _, tz := c.at(domain); tz != nil {
		why := takesNoMail(tz, domain)
		if m := tz.Lookup(domain); why == "" && (m.Kind == zone.Exact || m.Kind == zone.Wildcard) && !m.Node.Has(dns.TypeMX) {
			why = domain + " has no MX records, and a policy names MX hosts (RFC 8461 section 4.1)"
		}
		if why != "" {
			c.add(ref, RuleMTASTS, SeverityWarn, nil, "MTA-STS protects mail to %s, but %s", domain, why)
		}
	}
	host := "mta-sts." + domain
	_, tz := c.at(host)
	if tz == nil {
		return
	}
	m := tz.Lookup(host)
	switch {
	case m.Kind == zone.None:
		c.add(ref, RuleMTASTS, SeverityWarn, nil, "senders fetch the policy from https://%s/.well-known/mta-sts.txt, "+
			"but %s does not exist (RFC 8461 section 3.3); give it an address", strings.TrimSuffix(host, "."), host)
	case (m.Kind == zone.Exact || m.Kind == zone.Wildcard) && !m.Node.HasAddress() && !m.Node.Has(dns.TypeCNAME):
		c.add(ref, RuleMTASTS, SeverityWarn, nil, "senders fetch the policy from https://%s/.well-known/mta-sts.txt, "+
			"but %s has no A or AAAA record (RFC 8461 section 3.3)", strings.TrimSuffix(host, "."), host)
	}
}

// uniqueSorted sorts names and drops repeats.
func uniqueSorted(names []string) []string {
	slices.Sort(names)
	return slices.Compact(names)
}
