package mailauth

import (
	"net/netip"
	"strconv"
	"strings"
)

// SPF is what an SPF record (RFC 7208) asks a receiver to do, as far as
// the checks of the zones it is served from need to know.
type SPF struct {
	Terms    []Term
	Redirect *Term // the redirect= modifier, nil if none
	All      *Term // the first all mechanism, nil if none
	Exp      *Term

	redirect, exp bool // seen while parsing: a second one is an error
}

// Term is one mechanism or modifier of an SPF record.
type Term struct {
	Qualifier byte   // '+', '-', '~' or '?'; 0 for a modifier
	Name      string // the mechanism or modifier name, lower case
	Domain    string // the domain-spec, "" when none is given
	Macros    bool   // the domain-spec holds macros: its name is known only at evaluation
	At, End   int    // the term's span in the record's text
}

// Lookup reports whether evaluating the term costs a DNS query that counts
// against the limit of 10 (RFC 7208 section 4.6.4).
func (t Term) Lookup() bool {
	switch t.Name {
	case "include", "a", "mx", "ptr", "exists", "redirect":
		return true
	}
	return false
}

// IsSPF reports whether text is an SPF record as receivers select them:
// "v=spf1" followed by a space or the end (RFC 7208 section 4.5).
func IsSPF(text string) bool {
	return len(text) >= 6 && strings.EqualFold(text[:6], "v=spf1") && (len(text) == 6 || text[6] == ' ')
}

// NearSPF reports whether text looks meant as an SPF record but is not one
// to a receiver: "v=spf1" glued to what follows, behind spaces or quotes,
// or with a space inside it.
func NearSPF(text string) bool {
	if IsSPF(text) {
		return false
	}
	t := strings.TrimLeft(text, " \t\"'")
	t = strings.ToLower(t)
	return strings.HasPrefix(t, "v=spf") || strings.HasPrefix(t, "v = spf") || strings.HasPrefix(t, "v= spf") ||
		strings.HasPrefix(t, "v =spf") || strings.HasPrefix(t, "spf1 ")
}

// MaxOctets is the size above which an SPF record may not fit a UDP answer
// with the rest of the TXT records at its name (RFC 7208 section 3.4).
const MaxOctets = 450

// ParseSPF reads an SPF record: text must satisfy IsSPF or NearSPF.
func ParseSPF(text string) (SPF, []Problem) {
	var ps problems
	spf := SPF{Terms: make([]Term, 0, strings.Count(text, " "))}
	if !IsSPF(text) {
		ps.add(Error, 0, min(len(text), 8), "the record does not start with \"v=spf1\" followed by a space, so receivers "+
			"ignore it (RFC 7208 section 4.5); start it with exactly \"v=spf1 \"")
		return spf, ps
	}
	if len(text) > MaxOctets {
		ps.add(Warning, -1, -1, "the record is %d octets, over the %d that RFC 7208 section 3.4 advises so that the "+
			"answer fits one UDP datagram; move mechanisms into an include", len(text), MaxOctets)
	}
	for at := 6; at < len(text); {
		if text[at] == ' ' {
			at++
			continue
		}
		end := at
		for end < len(text) && text[end] != ' ' {
			end++
		}
		spf.term(text, at, end, &ps)
		at = end
	}
	spf.point()
	spf.order(&ps)
	return spf, ps
}

// point sets All, Redirect and Exp to the first of their kind in Terms.
func (spf *SPF) point() {
	for i := range spf.Terms {
		t := &spf.Terms[i]
		switch {
		case t.Name == "all" && t.Qualifier != 0 && spf.All == nil:
			spf.All = t
		case t.Name == "redirect" && t.Qualifier == 0 && spf.Redirect == nil:
			spf.Redirect = t
		case t.Name == "exp" && t.Qualifier == 0 && spf.Exp == nil:
			spf.Exp = t
		}
	}
}

// order applies the rules about the terms together: modifiers given once,
// what follows all (RFC 7208 sections 5.1 and 6).
func (spf *SPF) order(ps *problems) {
	if spf.All == nil {
		return
	}
	for _, t := range spf.Terms {
		if t.At > spf.All.At && t.Qualifier != 0 {
			ps.add(Warning, t.At, t.End, "%q comes after %q and is never evaluated: a receiver stops at all "+
				"(RFC 7208 section 5.1); move it before all", t.Name, "all")
			break
		}
	}
	if spf.Redirect != nil {
		ps.add(Warning, spf.Redirect.At, spf.Redirect.End, "redirect= is ignored when the record has an all "+
			"mechanism (RFC 7208 section 6.1); remove one of them")
	}
}

// term reads the term text[at:end].
func (spf *SPF) term(text string, at, end int, ps *problems) {
	s := text[at:end]
	name, rest, hasEq := cutName(s)
	if hasEq {
		spf.modifier(text, at, end, strings.ToLower(name), rest, ps)
		return
	}
	t := Term{Qualifier: '+', At: at, End: end}
	if strings.IndexByte("+-~?", s[0]) >= 0 {
		t.Qualifier = s[0]
		s = s[1:]
	}
	mech, arg, hasArg := strings.Cut(s, ":")
	cidr := ""
	if !hasArg {
		if i := strings.IndexByte(mech, '/'); i >= 0 {
			mech, cidr = mech[:i], mech[i:]
		}
	}
	t.Name = strings.ToLower(mech)
	bad := func(format string, args ...any) {
		ps.add(Error, at, end, "%q: "+format, append([]any{text[at:end]}, args...)...)
	}
	switch t.Name {
	case "all":
		if hasArg || cidr != "" {
			bad("all takes no argument (RFC 7208 section 5.1)")
		}
	case "include", "exists":
		if !hasArg || arg == "" {
			bad("%s needs a domain, as in %s:_spf.example.net (RFC 7208 section 5.%d)", t.Name, t.Name,
				map[string]int{"include": 2, "exists": 7}[t.Name])
			break
		}
		spf.domainSpec(&t, arg, text, ps)
	case "a", "mx":
		if hasArg {
			if i := strings.IndexByte(arg, '/'); i >= 0 {
				arg, cidr = arg[:i], arg[i:]
			}
			if arg == "" {
				bad("%s: with an empty domain; write %s alone for the record's own domain (RFC 7208 section 5.%d)",
					t.Name, t.Name, map[string]int{"a": 3, "mx": 4}[t.Name])
				break
			}
			spf.domainSpec(&t, arg, text, ps)
		}
		if msg := dualCIDR(cidr); msg != "" {
			bad("%s (RFC 7208 section 5.6)", msg)
		}
	case "ptr":
		if hasArg {
			spf.domainSpec(&t, arg, text, ps)
		}
		ps.add(Warning, at, end, "ptr is slow and unreliable and should not be published (RFC 7208 section 5.5); "+
			"list the sending hosts with ip4:, ip6: or a instead")
	case "ip4", "ip6":
		if msg := network(t.Name, arg, hasArg); msg != "" {
			bad("%s (RFC 7208 section 5.6)", msg)
		}
	default:
		hint := ""
		if strings.Contains(s, "=") || !strings.ContainsAny(s, ":/") && strings.ContainsAny(s, ".") {
			hint = "; a domain needs a mechanism in front of it, as in include:" + s
		}
		bad("unknown mechanism %q: receivers return permerror for the whole record (RFC 7208 section 5)%s", mech, hint)
		return
	}
	spf.Terms = append(spf.Terms, t)
}

// cutName splits a modifier name=value; hasEq is false for a mechanism.
// A mechanism's argument may hold "=" (in a macro), so name must be a
// name: ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) (RFC 7208 section 12).
func cutName(s string) (name, value string, hasEq bool) {
	i := strings.IndexByte(s, '=')
	if i <= 0 || !isAlpha(s[0]) {
		return "", "", false
	}
	for _, c := range []byte(s[:i]) {
		if !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' && c != '.' {
			return "", "", false
		}
	}
	return s[:i], s[i+1:], true
}

// modifier reads name=value.
func (spf *SPF) modifier(text string, at, end int, name, value string, ps *problems) {
	t := Term{Name: name, At: at, End: end}
	switch name {
	case "redirect", "exp":
		if name == "redirect" && spf.redirect || name == "exp" && spf.exp {
			ps.add(Error, at, end, "%q: %s= appears twice; receivers return permerror (RFC 7208 section 6)", text[at:end], name)
			return
		}
		if value == "" {
			ps.add(Error, at, end, "%q: %s= needs a domain (RFC 7208 section 6)", text[at:end], name)
			return
		}
		spf.domainSpec(&t, value, text, ps)
		spf.Terms = append(spf.Terms, t)
		spf.redirect = spf.redirect || name == "redirect"
		spf.exp = spf.exp || name == "exp"
	default:
		if !macroString(value, false) {
			ps.add(Error, at, end, "%q: the value of modifier %s= is not a valid macro-string (RFC 7208 section 7.1)",
				text[at:end], name)
		}
	}
}

// domainSpec checks arg as a domain-spec (RFC 7208 sections 7.1 and 12)
// and records it in t.
func (spf *SPF) domainSpec(t *Term, arg, text string, ps *problems) {
	t.Domain = arg
	t.Macros = strings.IndexByte(arg, '%') >= 0
	if msg := checkDomainSpec(arg, t.Name == "exp"); msg != "" {
		ps.add(Error, t.At, t.End, "%q: %s (RFC 7208 section 7.1)", text[t.At:t.End], msg)
		t.Domain = ""
	}
}

// checkDomainSpec returns what is wrong with a domain-spec, or "".
func checkDomainSpec(s string, exp bool) string {
	if !macroString(s, exp) {
		return "the domain holds a character or macro that is not allowed; a literal % is written %%"
	}
	if strings.HasSuffix(s, "}") {
		return "" // ends in a macro-expand
	}
	name := strings.TrimSuffix(s, ".")
	label := name[strings.LastIndexByte(name, '.')+1:]
	if !strings.Contains(name, ".") || !topLabel(label) {
		return "the domain must end in a top-level label of letters, as in example.net; got " + strconv.Quote(label)
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" && name != "" {
			return "the domain has an empty label"
		}
		if len(l) > 63 {
			return "the domain has a label of more than 63 octets"
		}
	}
	return ""
}

// topLabel reports whether l is a toplabel: alphanumerics with at least
// one letter, or an LDH label (RFC 7208 section 7.1).
func topLabel(l string) bool {
	if l == "" {
		return false
	}
	letter := false
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case isAlpha(c):
			letter = true
		case isDigit(c):
		case c == '-' && i > 0 && i < len(l)-1:
			letter = true
		default:
			return false
		}
	}
	return letter
}

// macroString reports whether s is a macro-string (RFC 7208 section 7.1);
// the letters c, r and t are allowed only in exp= (section 7.3).
func macroString(s string, exp bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e {
			return false
		}
		if c != '%' {
			continue
		}
		if i+1 >= len(s) {
			return false
		}
		switch s[i+1] {
		case '%', '_', '-':
			i++
			continue
		case '{':
		default:
			return false
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 || !macroExpand(s[i+2:i+j], exp) {
			return false
		}
		i += j
	}
	return true
}

// macroExpand checks what is between "%{" and "}": macro-letter
// transformers *delimiter.
func macroExpand(s string, exp bool) bool {
	if s == "" {
		return false
	}
	letters := "slodiphv"
	if exp {
		letters += "crt"
	}
	if strings.IndexByte(letters, toLower(s[0])) < 0 {
		return false
	}
	i := 1
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i < len(s) && toLower(s[i]) == 'r' {
		i++
	}
	for ; i < len(s); i++ {
		if strings.IndexByte(".-+,/_=", s[i]) < 0 {
			return false
		}
	}
	return true
}

// network checks the argument of ip4: or ip6:.
func network(mech, arg string, hasArg bool) string {
	if !hasArg || arg == "" {
		return mech + " needs a network, as in " + mech + ":" + map[string]string{"ip4": "192.0.2.0/24", "ip6": "2001:db8::/32"}[mech]
	}
	addr, length, hasLen := strings.Cut(arg, "/")
	ip, err := netip.ParseAddr(addr)
	want4 := mech == "ip4"
	switch {
	case err != nil || ip.Zone() != "":
		return strconv.Quote(addr) + " is not an IP address"
	case want4 && !ip.Is4():
		return strconv.Quote(addr) + " is an IPv6 address; write ip6:" + arg
	case !want4 && ip.Is4():
		return strconv.Quote(addr) + " is an IPv4 address; write ip4:" + arg
	case !want4 && ip.Is4In6():
		return strconv.Quote(addr) + " is an IPv4-mapped address, which SPF never matches; write ip4:" + ip.Unmap().String()
	}
	if !hasLen {
		return ""
	}
	maxLen := 32
	if !want4 {
		maxLen = 128
	}
	if msg := cidrLength(length, maxLen); msg != "" {
		return msg
	}
	return ""
}

// dualCIDR checks the [ip4-cidr-length] [ "/" ip6-cidr-length ] after a
// or mx: "/24", "//64", "/24//64".
func dualCIDR(s string) string {
	if s == "" {
		return ""
	}
	s = s[1:]
	v4, v6, both := strings.Cut(s, "//")
	if strings.HasPrefix(s, "/") {
		v4, v6, both = "", s[1:], true
	}
	if v4 != "" || !both {
		if msg := cidrLength(v4, 32); msg != "" {
			return msg
		}
	}
	if both {
		return cidrLength(v6, 128)
	}
	return ""
}

// cidrLength checks a prefix length: digits without a leading zero, at
// most maxLen.
func cidrLength(s string, maxLen int) string {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || (len(s) > 1 && s[0] == '0') || strings.ContainsAny(s, "+-") {
		return "prefix length " + strconv.Quote(s) + " is not a number"
	}
	if n > maxLen {
		return "prefix length /" + s + " is longer than " + strconv.Itoa(maxLen)
	}
	return ""
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func toLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 0x20
	}
	return c
}

// Lookups counts the terms of the record that cost a DNS query (RFC 7208
// section 4.6.4); redirect= counts only when the record has no all, which
// would make a receiver ignore it.
func (spf *SPF) Lookups() int {
	n := 0
	for _, t := range spf.Terms {
		if t.Lookup() && (t.Name != "redirect" || spf.All == nil) {
			n++
		}
	}
	return n
}

// termStarts are the beginnings of SPF terms, after an optional qualifier.
var termStarts = []string{"all", "include:", "ip4:", "ip6:", "a:", "a/", "mx:", "mx/", "exists:", "ptr", "redirect=", "exp="}

// GluedTerms finds the places where a TXT record's strings were joined with
// no space between and the second string starts like a term: the record's
// author meant two terms, receivers read one (RFC 7208 section 3.3), as in
// "v=spf1 include:_spf.example.net" "-all", which asks for the SPF record of
// _spf.example.net-all.
func GluedTerms(text string, breaks []int) []Problem {
	var ps problems
	lastSpace := -1 // the last space before the break at hand
	scanned := 0
	for i, b := range breaks {
		if b <= 0 || b >= len(text) {
			continue
		}
		if j := strings.LastIndexByte(text[scanned:b], ' '); j >= 0 {
			lastSpace = scanned + j
		}
		scanned = b
		if text[b-1] == ' ' || text[b] == ' ' || !termStart(text[b:]) {
			continue
		}
		start, end := lastSpace+1, len(text)
		if j := strings.IndexByte(text[b:min(len(text), b+maxQuoted)], ' '); j >= 0 {
			end = b + j
		}
		end = min(end, b+maxQuoted)
		start = max(start, b-maxQuoted)
		ps.add(Warning, start, end, "strings %d and %d of the record are joined without a space, so receivers read "+
			"one term, %q, where two were meant (RFC 7208 section 3.3); end string %d with a space", i+1, i+2,
			text[start:end], i+1)
		ps[len(ps)-1].Break = true
	}
	return ps
}

// maxQuoted bounds how much of a glued term a message quotes on each side of
// the break.
const maxQuoted = 64

// termStart reports whether s starts like an SPF term.
func termStart(s string) bool {
	head := strings.ToLower(s[:min(len(s), 16)])
	if head != "" && strings.IndexByte("+-~?", head[0]) >= 0 {
		head = head[1:]
	}
	if head == "a" || head == "mx" || strings.HasPrefix(head, "a ") || strings.HasPrefix(head, "mx ") {
		return true
	}
	for _, t := range termStarts {
		if strings.HasPrefix(head, t) {
			return true
		}
	}
	return false
}

// SPFNeeds is what evaluating an SPF record asks of the DNS, read without
// parsing the record: enough to tell whether the zone it is in can answer
// all of it.
type SPFNeeds struct {
	Lookups int  // terms that cost a DNS query (RFC 7208 section 4.6.4)
	Others  bool // a term names another domain, or a macro
	OwnA    bool // an a term for the record's own domain
	OwnMX   bool // an mx term for the record's own domain
}

// NeedsOf reads what the SPF record text asks of the DNS.
func NeedsOf(text string) SPFNeeds {
	var n SPFNeeds
	rest := text[min(len(text), 6):]
	for rest != "" {
		rest = strings.TrimLeft(rest, " ")
		term := rest
		if i := strings.IndexByte(rest, ' '); i >= 0 {
			term, rest = rest[:i], rest[i:]
		} else {
			rest = ""
		}
		n.add(strings.TrimLeft(term, "+-~?"))
	}
	return n
}

// add counts one term.
func (n *SPFNeeds) add(term string) {
	name, arg := term, ""
	if i := strings.IndexAny(term, ":=/"); i >= 0 {
		name, arg = term[:i], term[i:]
	}
	switch {
	case strings.EqualFold(name, "include"), strings.EqualFold(name, "redirect"), strings.EqualFold(name, "exists"):
		n.Lookups++
		n.Others = true
	case strings.EqualFold(name, "ptr"):
		n.Lookups++
	case strings.EqualFold(name, "a"), strings.EqualFold(name, "mx"):
		n.Lookups++
		switch {
		case strings.HasPrefix(arg, ":"):
			n.Others = true
		case strings.EqualFold(name, "a"):
			n.OwnA = true
		default:
			n.OwnMX = true
		}
	}
}
