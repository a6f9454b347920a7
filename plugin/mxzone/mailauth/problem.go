// Package mailauth judges the DNS records a domain's mail depends on, beside
// its MX records: SPF (RFC 7208), DMARC (RFC 7489), DKIM keys (RFC 6376),
// MTA-STS (RFC 8461), TLS-RPT (RFC 8460), TLSA (RFC 6698, RFC 7672) and the
// addresses and names of mail hosts. Each parser reads one record's text
// (a TXT record's strings joined without separators) and returns what it
// found and the problems in it, each with the span of the text at fault.
// Nothing here looks anything up: the caller resolves names in its zones.
package mailauth

import (
	"fmt"
	"strings"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/quote"
)

// Level is how serious a problem is: an Error breaks what the record is
// for, a Warning is legal but likely not meant, Info is worth knowing.
type Level int8

// The levels, most serious first.
const (
	Error Level = iota
	Warning
	Info
)

// Problem is one thing wrong with a record's text.
type Problem struct {
	Level Level
	At    int // byte offset in the text of what is at fault; -1: the record as a whole
	End   int // end of that span
	Msg   string
	Break bool // the message is about where two strings were joined: BreakHint adds nothing
}

// problems collects the problems of one record.
type problems []Problem

// add records a problem. A record reports at most maxProblems: a customer's
// record of thousands of broken terms costs its length to read, not a
// message for each term, and the first few show what is wrong.
func (ps *problems) add(l Level, at, end int, format string, args ...any) {
	if len(*ps) >= maxProblems {
		return
	}
	*ps = append(*ps, Problem{Level: l, At: at, End: end, Msg: quote.Sprintf(format, args...)})
}

// maxProblems is the most problems one record reports.
const maxProblems = 10

// Join joins the strings of a TXT record as SPF (RFC 7208 section 3.3) and
// DKIM (RFC 6376 section 3.6.2.2) read them: without separators. Breaks
// holds the offsets in the joined text where one string ended and the next
// began.
func Join(txt []string) (text string, breaks []int) {
	if len(txt) == 1 {
		return txt[0], nil
	}
	n := 0
	for _, s := range txt {
		n += len(s)
	}
	var b strings.Builder
	b.Grow(n)
	for i, s := range txt {
		if i > 0 {
			breaks = append(breaks, b.Len())
		}
		b.WriteString(s)
	}
	return b.String(), breaks
}

// BreakHint explains a problem whose span holds the place where two of the
// record's strings were joined: the usual cause is a string split in the
// wrong place, or one that should have ended with a space. It is "" when no
// break lies strictly inside the span.
func BreakHint(text string, breaks []int, p Problem) string {
	for i, b := range breaks {
		if p.Break || p.At < 0 || b <= p.At || b >= p.End {
			continue
		}
		before := text[max(p.At, b-12):b]
		after := text[b:min(p.End, b+12)]
		return fmt.Sprintf("; the record's strings %d and %d are joined here without a space (%q + %q): "+
			"end string %d with a space if they are separate terms", i+1, i+2, before, after, i+1)
	}
	return ""
}
