package mailauth

import (
	"net/mail"
	"net/url"
	"strconv"
	"strings"
)

// DMARC is what a DMARC record (RFC 7489) says, as far as the checks need.
type DMARC struct {
	Policy  string      // p=, lower case; "" when missing
	Reports []ReportURI // rua= and ruf= entries that are mailto: URIs with an address
}

// ReportURI is one mailto: report destination of a DMARC record.
type ReportURI struct {
	Tag     string // rua or ruf
	Address string // the address, as written
	Domain  string // its domain, lower case, without a final dot
	At, End int
}

// IsDMARC reports whether text is a DMARC record as receivers select them:
// its first tag is v=DMARC1 (RFC 7489 sections 6.3 and 6.6.3).
func IsDMARC(text string) bool {
	t := strings.TrimLeft(text, " \t")
	rest, ok := strings.CutPrefix(t, "v")
	if !ok {
		return false
	}
	rest = strings.TrimLeft(rest, " \t")
	rest, ok = strings.CutPrefix(rest, "=")
	if !ok {
		return false
	}
	rest = strings.TrimLeft(rest, " \t")
	rest, ok = strings.CutPrefix(rest, "DMARC1")
	return ok && (rest == "" || strings.IndexByte(" \t;", rest[0]) >= 0)
}

// NearDMARC reports whether text looks meant as a DMARC record but is not
// one to a receiver: v=DMARC1 not first, or not written exactly so.
func NearDMARC(text string) bool {
	return !IsDMARC(text) && strings.Contains(strings.ToLower(text), "dmarc1")
}

// ParseDMARC reads a DMARC record: text must satisfy IsDMARC or NearDMARC.
func ParseDMARC(text string) (DMARC, []Problem) {
	var d DMARC
	tags, ps := parseTags(text, Error, "RFC 7489 section 6.3", tagName)
	if !IsDMARC(text) {
		at, end := 0, len(text)
		if v := find(tags, "v"); v != nil {
			at, end = v.at, v.end
		}
		ps.add(Error, at, end, "the record must begin with exactly \"v=DMARC1\" (upper case, the first tag), or "+
			"receivers discard it (RFC 7489 sections 6.3 and 6.6.3); write \"v=DMARC1; p=...\"")
		return d, ps
	}
	for _, t := range tags {
		d.tag(text, t, &ps)
	}
	if find(tags, "p") == nil {
		ps.add(Warning, -1, -1, "the record has no p= tag; receivers then apply no policy unless rua= is valid "+
			"(RFC 7489 section 6.6.3); write p=none, p=quarantine or p=reject after v=DMARC1")
	}
	return d, ps
}

// tag checks one tag of a DMARC record.
func (d *DMARC) tag(text string, t tag, ps *problems) {
	v := t.value
	warn := func(format string, args ...any) {
		ps.add(Warning, t.at, t.end, "%q: "+format, append([]any{text[t.at:t.end]}, args...)...)
	}
	switch t.name {
	case "p", "sp", "np":
		switch strings.ToLower(v) {
		case "none", "quarantine", "reject":
			if t.name == "p" {
				d.Policy = strings.ToLower(v)
			}
		default:
			ps.add(Error, t.at, t.end, "%q: %s= must be none, quarantine or reject (RFC 7489 section 6.3%s); a receiver "+
				"that finds another value ignores the record%s", text[t.at:t.end], t.name,
				map[bool]string{true: ", RFC 9091 section 4.1"}[t.name == "np"], didYouMean(v, "none", "quarantine", "reject"))
		}
	case "rua", "ruf":
		d.reports(text, t, ps)
	case "adkim", "aspf":
		if v != "r" && v != "s" {
			warn("%s= must be r (relaxed) or s (strict) (RFC 7489 section 6.3)", t.name)
		}
	case "fo":
		for _, o := range splitList(v, ':') {
			if o != "0" && o != "1" && o != "d" && o != "s" {
				warn("fo= takes 0, 1, d and s separated by colons; %q is none of them (RFC 7489 section 6.3)", o)
				break
			}
		}
	case "pct":
		if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 100 {
			warn("pct= must be a whole number from 0 to 100 (RFC 7489 section 6.3)")
		}
	case "ri":
		if n, err := strconv.ParseUint(v, 10, 32); err != nil || n == 0 {
			warn("ri= must be a number of seconds, as in ri=86400 (RFC 7489 section 6.3)")
		}
	case "rf":
		for _, f := range splitList(v, ':') {
			if !strings.EqualFold(f, "afrf") {
				warn("rf= names report formats; %q is not one (the only one defined is afrf, RFC 7489 section 6.3)", f)
				break
			}
		}
	case "v":
	default:
		ps.add(Info, t.at, t.end, "tag %s= is not defined by RFC 7489 or RFC 9091; receivers ignore it", t.name)
	}
}

// reports reads the URIs of rua= or ruf=.
func (d *DMARC) reports(text string, t tag, ps *problems) {
	at := t.valueAt
	for _, raw := range strings.Split(t.value, ",") {
		item := strings.TrimSpace(raw)
		lead := len(raw) - len(strings.TrimLeft(raw, " \t"))
		span := [2]int{at + lead, at + lead + len(item)}
		at += len(raw) + 1
		warn := func(format string, args ...any) {
			ps.add(Warning, span[0], span[1], "%s= entry %q: "+format, append([]any{t.name, item}, args...)...)
		}
		uri := item
		if i := strings.LastIndexByte(uri, '!'); i >= 0 && sizeLimit(uri[i+1:]) {
			uri = uri[:i]
		}
		u, err := url.Parse(uri)
		switch {
		case item == "":
			warn("an empty URI (RFC 7489 section 6.2)")
			continue
		case err != nil || u.Scheme == "":
			hint := ""
			if strings.Contains(uri, "@") {
				hint = "; write mailto:" + uri
			}
			warn("not a URI (RFC 7489 section 6.2)%s", hint)
			continue
		case !strings.EqualFold(u.Scheme, "mailto"):
			warn("reports are sent only to mailto: URIs (RFC 7489 section 6.2)")
			continue
		}
		addr, err := url.PathUnescape(u.Opaque)
		if err == nil {
			_, err = mail.ParseAddress(addr)
		}
		at := strings.LastIndexByte(addr, '@')
		if err != nil || at < 0 {
			warn("%q is not a mail address (RFC 7489 section 6.2)", addr)
			continue
		}
		d.Reports = append(d.Reports, ReportURI{Tag: t.name, Address: addr,
			Domain: strings.ToLower(strings.TrimSuffix(addr[at+1:], ".")), At: span[0], End: span[1]})
	}
}

// sizeLimit reports whether s is the size after "!" in a dmarc-uri:
// 1*DIGIT [ "k" / "m" / "g" / "t" ].
func sizeLimit(s string) bool {
	s = strings.TrimRight(s, "kmgtKMGT")
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// didYouMean suggests the word of words closest to s, when one is close.
func didYouMean(s string, words ...string) string {
	s = strings.ToLower(s)
	best, bestD := "", 3
	for _, w := range words {
		if d := distance(s, w); d < bestD {
			best, bestD = w, d
		}
	}
	if best == "" {
		return ""
	}
	return "; did you mean " + strconv.Quote(best) + "?"
}

// distance is the edit distance of a and b (short words only).
func distance(a, b string) int {
	if len(a) > 32 || len(b) > 32 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
