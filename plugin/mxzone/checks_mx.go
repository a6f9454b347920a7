package mxzone

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/mailauth"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"

	"github.com/miekg/dns"
)

// targetFinding is a finding of the cross-zone MX checks, with the served zone
// in which the exchange was looked up: an edit of that zone can cause it.
type targetFinding struct {
	Finding
	targets []string
}

// zoneOf finds the zone file that holds name (lower case): its origin, and
// the version of it that is served (nil if none is). The origin is "" when
// no zone file holds the name.
type zoneOf func(name string) (origin string, served *version)

// checkTargets looks every MX exchange of v up, in v itself or, through
// find, in the other served zones, as a resolver would see them, and applies the rules that need the answer: the
// exchange must not be a CNAME and must own an address.
//
// It also returns the zones whose change can change these findings: the
// served zone an exchange lies in when that is another zone, or, for an
// exchange in no served zone, every name above it (a zone added there would
// capture it).
func checkTargets(v *version, find zoneOf, policy *Policy) ([]targetFinding, []string) {
	var out []targetFinding
	var keys []string
	fs := &findings{policy: policy, zone: v.Origin()} // its list is emptied after each exchange
	for ref := range v.exchanges {
		ref.exchange = throughDNAMEs(v, find, ref.exchange)
		fs.list = fs.list[:0]
		origin, tz := servedAt(v, find, ref.exchange)
		var targets []string
		switch {
		case tz == v:
			checkExchange(v, ref, v, fs)
		case origin == "":
			fs.addSeverity(RuleMXAddress, SeverityInfo, ref.file, ref.line, ref.owner,
				"exchange %s is outside every served zone: not checked", ref.exchange)
			keys = appendSuffixes(keys, ref.exchange)
		case tz == nil:
			fs.addSeverity(RuleMXAddress, SeverityInfo, ref.file, ref.line, ref.owner,
				"exchange %s is in zone %s, which is not served: not checked", ref.exchange, origin)
			keys = appendSuffixes(keys, ref.exchange)
		default:
			targets = []string{origin}
			checkExchange(v, ref, tz, fs)
			keys = append(keys, origin)
		}
		for _, f := range fs.list {
			f.cross = true
			out = append(out, targetFinding{Finding: f, targets: targets})
		}
	}
	mail, mailKeys := checkMail(v, find, policy)
	out = append(out, mail...)
	keys = append(keys, mailKeys...)
	return out, uniqueSorted(keys)
}

// throughDNAMEs returns the name a resolver ends up with for name: the name
// itself, or what the DNAMEs of served zones above it make of it (RFC 6672),
// so that an MX target is judged at its synthesised name.
func throughDNAMEs(v *version, find zoneOf, name string) string {
	for range zone.MaxChain {
		_, tz := servedAt(v, find, name)
		if tz == nil {
			return name
		}
		m := tz.Lookup(name)
		if m.Kind != zone.Redirected {
			return name
		}
		set, _ := m.Node.Set(dns.TypeDNAME)
		next, ok := zone.Redirect(name, m.Cut, zone.Canonical(set.RRs()[0].(*dns.DNAME).Target))
		if !ok {
			return name
		}
		name = next
	}
	return name
}

// appendSuffixes appends name and every name above it, the root excluded.
func appendSuffixes(keys []string, name string) []string {
	keys = append(keys, name)
	for a := range zone.Ancestors(name) {
		keys = append(keys, a)
	}
	return keys
}

// mxPlace is an MX record as the messages name it.
type mxPlace struct {
	owner, exchange, file string
	line                  int
}

// exchanges yields the MX records of v that name a host: not null MX, not
// IP literals (the local checks judge those).
func (v *version) exchanges(yield func(mxPlace) bool) {
	i := 0
	for set := range v.All {
		if set.Type() != dns.TypeMX {
			continue
		}
		for _, rr := range set.RRs() {
			pos := v.mx[i]
			i++
			mx := rr.(*dns.MX)
			if mx.Mx == "." || isIPLiteral(mx.Mx, v.Origin()) {
				continue
			}
			if !yield(mxPlace{owner: set.Owner(), exchange: zone.Canonical(mx.Mx), file: v.fileOf(pos), line: int(pos.line)}) {
				return
			}
		}
	}
}

// checkExchange applies the MX target rules to ref, whose exchange lies in tz.
func checkExchange(v *version, ref mxPlace, tz *version, fs *findings) {
	m := tz.Lookup(ref.exchange)
	where := ""
	if tz != v {
		where = " in zone " + tz.Origin()
	}
	switch m.Kind {
	case zone.Delegated:
		fs.addSeverity(RuleMXAddress, SeverityInfo, ref.file, ref.line, ref.owner,
			"exchange %s is below the delegation %s%s: not checked", ref.exchange, m.Cut, where)
	case zone.Redirected:
		fs.addSeverity(RuleMXAddress, SeverityInfo, ref.file, ref.line, ref.owner,
			"exchange %s is redirected by DNAMEs more than %d times: not checked", ref.exchange, zone.MaxChain)
	case zone.None:
		fs.add(RuleMXAddress, ref.file, ref.line, ref.owner, "exchange %s does not exist%s%s",
			ref.exchange, where, forgottenDotHint(ref.exchange, v.Origin()))
	default:
		via := ""
		if m.Kind == zone.Wildcard {
			via = " (through the wildcard at its closest encloser)"
		}
		n := m.Node
		if cname, ok := n.Set(dns.TypeCNAME); ok {
			fs.add(RuleMXCNAME, ref.file, ref.line, ref.owner,
				"exchange %s%s%s is a CNAME for %s; an MX must name the host itself (RFC 2181 section 10.3, RFC 5321 section 5.1)",
				ref.exchange, where, via, cname.RRs()[0].(*dns.CNAME).Target)
			return
		}
		if n.HasAddress() {
			checkReachable(ref, n, where, fs)
			return
		}
		if n.Empty() {
			fs.add(RuleMXAddress, ref.file, ref.line, ref.owner,
				"exchange %s%s has no A or AAAA record: the name exists only because names below it do", ref.exchange, where)
			return
		}
		fs.add(RuleMXAddress, ref.file, ref.line, ref.owner, "exchange %s%s%s has no A or AAAA record (it has %s)",
			ref.exchange, where, via, typeList(n))
	}
}

// typeList names the RR types at n.
func typeList(n zone.Node) string {
	names := make([]string, 0, n.NumSets())
	for k := range n.NumSets() {
		names = append(names, dns.TypeToString[n.SetAt(k).Type()])
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// commonTLDs are the endings that make a relative exchange look like a host
// name written without its final dot.
var commonTLDs = map[string]bool{
	"com": true, "net": true, "org": true, "info": true, "biz": true, "io": true, "eu": true, "de": true,
	"uk": true, "fr": true, "nl": true, "be": true, "ch": true, "at": true, "it": true, "es": true,
	"se": true, "no": true, "dk": true, "fi": true, "pl": true, "cz": true, "ru": true, "jp": true,
	"cn": true, "au": true, "ca": true, "us": true, "br": true, "in": true, "co": true, "me": true,
	"app": true, "dev": true, "cloud": true, "email": true,
}

// forgottenDotHint explains an exchange like mail.example.net.example.com.,
// which is what "MX 10 mail.example.net" becomes inside example.com.
func forgottenDotHint(exchange, origin string) string {
	rel, ok := strings.CutSuffix(exchange, "."+origin)
	if !ok || !strings.Contains(rel, ".") {
		return ""
	}
	last := rel[strings.LastIndexByte(rel, '.')+1:]
	originTLD := strings.TrimSuffix(origin, ".")
	originTLD = originTLD[strings.LastIndexByte(originTLD, '.')+1:]
	if !commonTLDs[last] && last != originTLD {
		return ""
	}
	return fmt.Sprintf("; it looks like %q written without its final dot, which makes it relative to %s: write \"%s.\"",
		rel, origin, rel)
}

// checkReachable applies mx_target_reachable to the addresses of an
// exchange (RFC 6890): one that no sender can reach is an error, only
// private ones a warning, documentation ones worth a note.
func checkReachable(ref mxPlace, n zone.Node, where string, fs *findings) {
	var private, documentation netip.Addr
	privateKind, public := "", false
	var buf [8]netip.Addr
	for _, a := range n.AppendAddrs(buf[:0]) {
		switch reach, kind := mailauth.Classify(a); reach {
		case mailauth.Unreachable:
			fs.add(RuleMXReachable, ref.file, ref.line, ref.owner, "exchange %s%s has the address %s, which is %s: "+
				"no sender can deliver there (RFC 6890); give it the mail host's public address", ref.exchange, where, a, kind)
			return
		case mailauth.Private:
			private, privateKind = a, kind
		case mailauth.Documentation:
			documentation = a
		default:
			public = true
		}
	}
	switch {
	case private.IsValid() && !public && !documentation.IsValid():
		fs.advise(RuleMXReachable, SeverityWarn, ref.file, ref.line, ref.owner, "exchange %s%s has only private "+
			"addresses (%s, %s): senders on the Internet cannot reach it (RFC 6890)", ref.exchange, where, private, privateKind)
	case documentation.IsValid() && fs.policy.Notes:
		fs.advise(RuleMXReachable, SeverityInfo, ref.file, ref.line, ref.owner, "exchange %s%s has the address %s, "+
			"reserved for documentation (RFC 5737, RFC 3849): fine in an example, unreachable in use", ref.exchange, where, documentation)
	}
}
