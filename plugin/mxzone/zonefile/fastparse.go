package zonefile

import (
	"net"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// fastParse reads the plain zone files that hosting control panels write -
// $TTL, $ORIGIN, and SOA, NS, MX, A, AAAA, CNAME and TXT records in their
// simplest spelling - about ten times faster than dns.ZoneParser, which
// dominates the load of many small zones. On anything else (escapes,
// $INCLUDE, $GENERATE, other types or classes, TTL units, unusual
// characters) it returns ok false and the caller parses the file with
// dns.ZoneParser, which also reports every error: fastParse never rejects.
// FuzzFastParse holds it to giving what dns.ZoneParser gives.
//
// Past maxRRs records (0: no limit) it gives up too, and the full parser
// reports the limit.
func fastParse(data []byte, origin, file string, maxRRs int) (recs []Record, ok bool) {
	p := fastParser{origin: origin, file: file, recs: make([]Record, 0, 16), fields: make([]string, 0, 16)}
	rest := string(data) // one copy; what the records keep is cloned or built anew
	if strings.IndexByte(rest, '\r') >= 0 {
		return nil, false // carriage returns: dns.ZoneParser's rules for them are its own
	}
	line := 1
	for len(rest) > 0 {
		end := strings.IndexByte(rest, '\n')
		if end < 0 {
			end = len(rest)
		}
		text := rest[:end]
		start := line
		line++
		rest = rest[min(end+1, len(rest)):]
		// A record in parentheses goes on over the following lines.
		for depth := parens(text); depth != 0; depth = parens(text) {
			if depth < 0 || len(rest) == 0 {
				return nil, false
			}
			next := strings.IndexByte(rest, '\n')
			if next < 0 {
				next = len(rest)
			}
			if next > 0 && !isBlank(rest[0]) {
				return nil, false // dns.ZoneParser may glue it to the line before
			}
			text = stripComment(text) + " " + rest[:next]
			line++
			rest = rest[min(next+1, len(rest)):]
		}
		if !p.line(stripComment(text), start) || maxRRs > 0 && len(p.recs) > maxRRs {
			return nil, false
		}
	}
	return p.recs, true
}

type fastParser struct {
	origin string
	owner  string // of the previous record
	file   string
	ttl    uint32
	ttlSet bool // a default TTL exists
	byDir  bool // set by $TTL
	recs   []Record
	fields []string // reused for each line
}

// parens counts the parentheses left open in b, outside quotes and comments.
func parens(b string) int {
	depth, quote := 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			quote = !quote
		case quote:
		case c == ';':
			return depth
		case c == '(':
			depth++
		case c == ')':
			depth--
		}
	}
	return depth
}

// stripComment cuts a line at ";" outside quotes; a backslash anywhere is
// left to the full parser by the character check in fields.
func stripComment(b string) string {
	quote := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			quote = !quote
		case c == ';' && !quote:
			return b[:i]
		}
	}
	return b
}

// line handles one logical line; false: not for the fast path.
func (p *fastParser) line(text string, lineNo int) bool {
	ownerOmitted := len(text) > 0 && (text[0] == ' ' || text[0] == '\t')
	f, ok := fields(text, p.fields[:0])
	if !ok {
		return false
	}
	if len(f) == 0 {
		return true
	}
	if f[0][0] == '$' {
		return !ownerOmitted && p.directive(f) // a directive must start the line
	}
	owner := p.owner
	if !ownerOmitted {
		name, ok := p.name(f[0])
		if !ok {
			return false
		}
		owner, f = name, f[1:]
	} else if owner == "" {
		return false
	}
	ttl, f, ok := p.ttlAndClass(f)
	if !ok || len(f) < 2 {
		return false
	}
	hdr := dns.RR_Header{Name: owner, Class: dns.ClassINET, Ttl: ttl}
	rr, ok := p.rdata(strings.ToUpper(f[0]), f[1:], hdr)
	if !ok {
		return false
	}
	p.owner = owner
	p.recs = append(p.recs, Record{RR: rr, File: p.file, Line: lineNo})
	return true
}

// directive handles $TTL and $ORIGIN; false for anything else.
func (p *fastParser) directive(f []string) bool {
	if len(f) != 2 {
		return false
	}
	switch f[0] {
	case "$TTL":
		ttl, ok := parseUint32(f[1])
		if !ok {
			return false
		}
		p.ttl, p.ttlSet, p.byDir = ttl, true, true
		return true
	case "$ORIGIN":
		if !strings.HasSuffix(f[1], ".") {
			return false
		}
		name, ok := p.name(f[1])
		if !ok {
			return false
		}
		p.origin = name
		return true
	}
	return false
}

// ttlAndClass takes the optional TTL and class (IN only), in either order,
// from the front of f and returns the record's TTL and the rest of f. The
// TTL of the first record without $TTL becomes the default, as
// dns.ZoneParser has it.
func (p *fastParser) ttlAndClass(f []string) (uint32, []string, bool) {
	ttl, haveTTL, haveClass := uint32(0), false, false
	for i := 0; i < 2 && len(f) > 0; i++ {
		if strings.EqualFold(f[0], "IN") {
			if haveClass {
				return 0, nil, false // "IN IN": dns.ZoneParser rejects it
			}
			haveClass, f = true, f[1:]
			continue
		}
		if v, ok := parseUint32(f[0]); ok && !haveTTL {
			ttl, haveTTL, f = v, true, f[1:]
			continue
		}
		break
	}
	switch {
	case haveTTL:
		if !p.byDir {
			p.ttl, p.ttlSet = ttl, true
		}
	case p.ttlSet:
		ttl = p.ttl
	default:
		return 0, nil, false // dns.ZoneParser reports the missing TTL
	}
	return ttl, f, true
}

// rdata builds the record of type t from its fields.
func (p *fastParser) rdata(t string, f []string, hdr dns.RR_Header) (dns.RR, bool) {
	switch t {
	case "A", "AAAA":
		return address(t, f, hdr)
	case "NS", "CNAME":
		if len(f) != 1 {
			return nil, false
		}
		target, ok := p.name(f[0])
		if !ok {
			return nil, false
		}
		if t == "NS" {
			hdr.Rrtype = dns.TypeNS
			return &dns.NS{Hdr: hdr, Ns: target}, true
		}
		hdr.Rrtype = dns.TypeCNAME
		return &dns.CNAME{Hdr: hdr, Target: target}, true
	case "MX":
		if len(f) != 2 {
			return nil, false
		}
		pref, err := strconv.ParseUint(f[0], 10, 16)
		if err != nil {
			return nil, false
		}
		target, ok := p.name(f[1])
		if !ok {
			return nil, false
		}
		hdr.Rrtype = dns.TypeMX
		return &dns.MX{Hdr: hdr, Preference: uint16(pref), Mx: target}, true
	case "TXT":
		return text(f, hdr)
	case "SOA":
		return p.soa(f, hdr)
	}
	return nil, false
}

// address builds an A or AAAA record: IPv4 for A, IPv6 for AAAA, nothing
// else.
func address(t string, f []string, hdr dns.RR_Header) (dns.RR, bool) {
	if len(f) != 1 || strings.Contains(f[0], ":") != (t == "AAAA") {
		return nil, false
	}
	ip := net.ParseIP(f[0])
	switch {
	case ip == nil:
		return nil, false
	case t == "AAAA":
		hdr.Rrtype = dns.TypeAAAA
		return &dns.AAAA{Hdr: hdr, AAAA: ip}, true
	case ip.To4() == nil:
		return nil, false
	}
	hdr.Rrtype = dns.TypeA
	return &dns.A{Hdr: hdr, A: ip}, true
}

// text builds a TXT record from quoted strings without escapes.
func text(f []string, hdr dns.RR_Header) (dns.RR, bool) {
	txt := make([]string, 0, len(f))
	for _, s := range f {
		if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' || len(s) > 257 {
			return nil, false
		}
		txt = append(txt, strings.Clone(s[1:len(s)-1]))
	}
	hdr.Rrtype = dns.TypeTXT
	return &dns.TXT{Hdr: hdr, Txt: txt}, true
}

// soa builds an SOA record from its seven fields, or nine with the
// numbers in parentheses.
func (p *fastParser) soa(f []string, hdr dns.RR_Header) (dns.RR, bool) {
	if len(f) == 9 && f[2] == "(" && f[8] == ")" {
		f = f[:8]
		f = append(f[:2:2], f[3:]...)
	}
	if len(f) != 7 {
		return nil, false
	}
	ns, ok1 := p.name(f[0])
	mbox, ok2 := p.name(f[1])
	if !ok1 || !ok2 {
		return nil, false
	}
	var v [5]uint32
	for i := range v {
		n, ok := parseUint32(f[2+i])
		if !ok {
			return nil, false
		}
		v[i] = n
	}
	hdr.Rrtype = dns.TypeSOA
	return &dns.SOA{Hdr: hdr, Ns: ns, Mbox: mbox, Serial: v[0], Refresh: v[1], Retry: v[2], Expire: v[3], Minttl: v[4]}, true
}

// name makes a domain name absolute the way dns.ZoneParser does; false for
// anything but plain names ("@", letters, digits, "-", "_", "*", dots).
func (p *fastParser) name(s string) (string, bool) {
	if s == "@" {
		return p.origin, true
	}
	if s == "." {
		return ".", true
	}
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 {
				return "", false // empty label
			}
			label = 0
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '*':
		default:
			return "", false
		}
		if label++; label > 63 {
			return "", false
		}
	}
	if strings.HasSuffix(s, ".") {
		if len(s) > 254 {
			return "", false
		}
		return strings.Clone(s), true // not a slice of the line: that would keep it alive
	}
	full := s + "." + p.origin
	if p.origin == "." {
		full = s + "."
	}
	if len(full) > 254 {
		return "", false
	}
	return full, true
}

// fields splits a line at blanks, keeping quoted strings (with their quotes)
// whole; parentheses are fields of their own. False for a backslash, a
// control character or an unterminated quote.
func fields(s string, out []string) ([]string, bool) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')':
			if i > 0 && !isBlank(s[i-1]) || i+1 < len(s) && !isBlank(s[i+1]) {
				return nil, false // dns.ZoneParser glues "a(b" into one token
			}
			out = append(out, s[i:i+1])
			i++
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 || i > 0 && !isBlank(s[i-1]) || i+j+2 < len(s) && !isBlank(s[i+j+2]) {
				return nil, false // unterminated, or glued to another token
			}
			str := s[i : i+j+2]
			if strings.ContainsAny(str, "\\") {
				return nil, false
			}
			out = append(out, str)
			i += j + 2
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '(' && s[j] != ')' && s[j] != '"' {
				if s[j] < 0x21 || s[j] > 0x7e || s[j] == '\\' {
					return nil, false
				}
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out, true
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// parseUint32 reads a plain decimal number.
func parseUint32(s string) (uint32, bool) {
	if s == "" || len(s) > 10 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + uint64(s[i]-'0')
	}
	if v > 1<<32-1 {
		return 0, false
	}
	return uint32(v), true
}
