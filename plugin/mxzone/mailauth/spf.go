package mailauth

import "strings"

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

// Evaluated yields the terms a receiver evaluates, in order: none after the
// first all (RFC 7208 section 5.1), and no redirect= beside all (section
// 6.1).
func (spf *SPF) Evaluated(yield func(Term) bool) {
	for _, t := range spf.Terms {
		if spf.All != nil && (t.At > spf.All.At || t.Name == "redirect") {
			continue
		}
		if !yield(t) {
			return
		}
	}
}

// Lookups counts the evaluated terms that cost a DNS query (RFC 7208
// section 4.6.4), not following includes.
func (spf *SPF) Lookups() int {
	n := 0
	for t := range spf.Evaluated {
		if t.Lookup() {
			n++
		}
	}
	return n
}
