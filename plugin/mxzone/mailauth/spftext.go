// SPF read as text, without parsing it: strings glued into one term, and what a record asks of the DNS.

package mailauth

import "strings"

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
