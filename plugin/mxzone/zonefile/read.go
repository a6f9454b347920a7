// Package zonefile reads one zone file inside a zone directory: its
// $INCLUDE files (inside the directory only), the limits on what it may
// hold, and the file and line each record starts on. A fast path reads the
// plain files control panels write; everything else goes through
// dns.ZoneParser. It knows nothing of rules, generations or the plugin:
// problems come back as an *Error whose Kind the caller maps to its rules.
package zonefile

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/quote"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"

	"github.com/miekg/dns"
)

// Suffix marks the files of a zone directory that are zones.
const Suffix = ".zone"

// Origin turns the file name "example.com.zone" into "example.com.": the
// name compared as DNS names are (RFC 4343: case does not matter, escapes
// stand for what they escape), in canonical form: lower case, escaped only
// where it must be. "Example.COM.zone" and "ex\097mple.com.zone" give the
// same origin; "example.com..zone" (an empty label) none.
func Origin(name string) (string, error) {
	base, ok := strings.CutSuffix(name, Suffix)
	if !ok || base == "" {
		return "", fmt.Errorf("file name %s does not end in %q after a domain name", quote.Q(name), Suffix)
	}
	bad := fmt.Errorf("file name %s does not name a valid domain (write it as ORIGIN.zone, ORIGIN without its final dot)", quote.Q(name))
	if strings.HasPrefix(base, ".") || strings.Contains(base, "..") || endsInDot(base) {
		return "", bad
	}
	if _, ok := dns.IsDomainName(base); !ok {
		return "", bad
	}
	var wire [256]byte
	if _, err := dns.PackDomainName(dns.Fqdn(base), wire[:], 0, nil, false); err != nil {
		return "", bad
	}
	origin := zone.Canonical(dns.Fqdn(base))
	if i := strings.IndexFunc(origin, func(r rune) bool { return !zoneNameChar(r) }); i >= 0 {
		return "", fmt.Errorf("file name %s does not name a zone: zone names hold letters, digits, hyphens and underscores "+
			"between the dots, and it holds %s", quote.Q(name), quote.Q(string(origin[i])))
	}
	return origin, nil
}

// zoneNameChar reports whether r may be in a zone name taken from a file
// name (lower case, as Origin makes it): letters, digits, hyphen,
// underscore and the dots between labels. Anything else (quotes, spaces,
// angle brackets, control bytes) would be a name no registry hands out,
// and a trap for every tool that prints it.
func zoneNameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
}

// endsInDot reports whether s ends in a dot that is not escaped.
func endsInDot(s string) bool {
	if !strings.HasSuffix(s, ".") {
		return false
	}
	backslashes := 0
	for i := len(s) - 2; i >= 0 && s[i] == '\\'; i-- {
		backslashes++
	}
	return backslashes%2 == 0
}

// Canonical reports whether name is the canonical file name of its zone:
// its origin as Origin gives it, without the final dot, then ".zone". It is
// what a provider's tooling writes; any other spelling of the same zone is
// a second file for it.
func Canonical(name, origin string) bool { return name == origin+Suffix[1:] }

// Source describes one zone file to read.
type Source struct {
	Root       *os.Root // the zone directory; nothing outside it is read
	DirFD      int      // an open descriptor of the directory for the fast path, or -1
	Dir        string   // the zone directory as shown to the operator
	Rel        string   // the file's name inside Root
	File       string   // the file as shown to the operator; "": Dir joined with Rel
	Origin     string   // lower case, fully qualified
	MaxBytes   int64    // bytes in the file and its includes together
	MaxRecords int      // 0: no limit
	// Includable says whether $INCLUDE may read rel (a slash-separated path
	// inside Root); nil: DefaultIncludable.
	Includable func(rel string) bool
	// Settle, when set, is how long a zone file must have been left alone
	// before it is read when it was written in place (the inode is PrevIno,
	// the file's inode when it was read before) or ends without a newline:
	// until then it is taken to be in the middle of being written, and Read
	// returns ErrBusy. A file renamed into place (a new inode) is read at
	// once. With Settle set, a file that changes while it is read is ErrBusy
	// too.
	Settle  time.Duration
	PrevIno uint64
}

// Display is the path of rel as the operator knows it.
func (s Source) Display(rel string) string {
	if rel == s.Rel && s.File != "" {
		return s.File
	}
	return filepath.Join(s.Dir, filepath.FromSlash(rel))
}

// DefaultIncludable is which files $INCLUDE may read unless the caller
// says otherwise: fragments, not zone files (no name ending in ".zone", so
// no tenant's zone can be read into another's), and nothing hidden (no path
// element starting with a dot: no ".git", ".htpasswd" or ".env").
func DefaultIncludable(rel string) bool {
	if strings.HasSuffix(rel, Suffix) {
		return false
	}
	for _, elem := range strings.Split(rel, "/") {
		if strings.HasPrefix(elem, ".") {
			return false
		}
	}
	return true
}

// Record is a parsed record with the file and line it starts on.
type Record struct {
	RR   dns.RR
	File string
	Line int
}

// Result is what Read found.
type Result struct {
	Records  []Record
	Stamp    Stamp     // of the zone file as it was read
	Includes []Include // files read through $INCLUDE, in the order read
	// NoTTL counts the records that had no TTL, with no $TTL and no TTL on
	// a record before them to take: they got the SOA MINIMUM, as BIND
	// gives them (RFC 2308 section 4). First is the first of them.
	NoTTL      int
	FirstNoTTL Record
}

// unsetTTL marks, while the parser runs, a record that got no TTL: no
// record may have it (RFC 2181 section 8 keeps TTLs below 2^31).
const unsetTTL = 1<<32 - 2

// Include is a file read through $INCLUDE.
type Include struct {
	Rel   string // inside the zone directory
	File  string // as the operator knows it
	Stamp Stamp
}

// Kind says what sort of problem an Error is.
type Kind int

const (
	KindSyntax     Kind = iota // the text does not parse (RFC 1035 §5)
	KindOutside                // an $INCLUDE or symlink that leaves the zone directory
	KindLimit                  // more bytes or records than allowed
	KindUnreadable             // the file cannot be opened or read, or is not a regular file
)

// Error is a problem with the file at a known place. Its message never
// quotes the content of a file it refused to read.
type Error struct {
	Kind Kind
	File string
	Line int // 0: the file as a whole
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// ErrBusy says a zone file is being written: it is left as it was and read
// again once the writer is done.
var ErrBusy = errors.New("is being written")

// virtualDir prefixes the file names handed to the zone parser. The parser
// joins $INCLUDE paths to them; a path that has lost the prefix was absolute
// or climbed out with "..", and includeFS refuses it.
const virtualDir = "zonedir"

// Read parses src and its includes, returning each record with the file and
// line it starts on. Errors are *Error, or ErrBusy.
func Read(src Source) (*Result, error) {
	t := &tracker{src: src}
	res, err := t.parse()
	res.Stamp, res.Includes = t.stamp, t.includes
	return res, err
}

func (t *tracker) parse() (*Result, error) {
	src := t.src
	res := &Result{}
	top, err := t.open(src.Rel)
	if errors.Is(err, ErrBusy) {
		return res, err
	}
	if err != nil {
		return res, t.openError(err)
	}
	t.cur = top
	if recs, ok := fastParse(top.data, src.Origin, top.file, src.MaxRecords); ok {
		res.Records = recs
		return res, nil
	}
	zp := dns.NewZoneParser(top, src.Origin, path.Join(virtualDir, src.Rel))
	zp.SetDefaultTTL(unsetTTL)
	zp.SetIncludeAllowed(true)
	zp.SetIncludeFS(includeFS{t})
	recs := make([]Record, 0, 16)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		cur := t.cur
		if src.MaxRecords > 0 && len(recs) >= src.MaxRecords {
			return res, &Error{Kind: KindLimit, File: cur.file, Line: cur.start,
				Msg: fmt.Sprintf("zone has more than the limit of %d records", src.MaxRecords)}
		}
		if g, ok := rr.(*dns.RFC3597); ok && g.Hdr.Rrtype == markerType {
			if typ, ok := t.retypes[cur.file][cur.start]; ok {
				g.Hdr.Rrtype = typ
			}
		}
		sortBitmap(rr)
		recs = append(recs, Record{RR: rr, File: cur.file, Line: cur.start})
	}
	if err := zp.Err(); err != nil {
		if t.busy {
			return res, ErrBusy // an $INCLUDE file changed while it was read
		}
		return res, t.parseError(err)
	}
	res.Records = recs
	defaultTTLs(res)
	return res, nil
}

// sortBitmap puts the types of an NSEC, NSEC3 or CSYNC record in order,
// once each: a file may list them in any order (BIND and Knot read them
// so), the wire form has them in order (RFC 4034 section 4.1.2), and
// miekg/dns packs them only in order.
func sortBitmap(rr dns.RR) {
	var types *[]uint16
	switch rr := rr.(type) {
	case *dns.NSEC:
		types = &rr.TypeBitMap
	case *dns.NSEC3:
		types = &rr.TypeBitMap
	case *dns.CSYNC:
		types = &rr.TypeBitMap
	default:
		return
	}
	if !slices.IsSorted(*types) {
		slices.Sort(*types)
	}
	*types = slices.Compact(*types)
}

// defaultTTLs gives the records that got no TTL the SOA MINIMUM.
func defaultTTLs(res *Result) {
	minimum := uint32(0)
	for _, r := range res.Records {
		if soa, ok := r.RR.(*dns.SOA); ok {
			minimum = soa.Minttl
			break
		}
	}
	for _, r := range res.Records {
		if h := r.RR.Header(); h.Ttl == unsetTTL {
			if res.NoTTL == 0 {
				res.FirstNoTTL = r
			}
			res.NoTTL++
			h.Ttl = minimum
		}
	}
}

// openError is the Error for a zone file that could not be opened.
func (t *tracker) openError(err error) error {
	e := &Error{Kind: KindSyntax, File: t.src.Display(t.src.Rel), Msg: err.Error()}
	var limit *limitError
	var errno syscall.Errno
	switch {
	case errors.As(err, &limit):
		e.Kind = KindLimit
	case errors.Is(err, errEscapes):
		e.Kind = KindOutside
	case errors.As(err, &errno):
		e.Kind, e.Msg = KindUnreadable, "cannot read the zone file: "+e.Msg
	case errors.Is(err, errNotRegular):
		e.Kind = KindUnreadable
	}
	return e
}

// parseError turns the parser's error into an Error with the right file
// and line. A refused $INCLUDE is reported without the text of the file it
// named.
func (t *tracker) parseError(err error) error {
	var limit *limitError
	if errors.As(err, &limit) {
		return &Error{Kind: KindLimit, File: t.src.Display(limit.rel), Msg: limit.Error()}
	}
	msg := err.Error()
	file, line, col, token := t.src.Display(t.cur.rel), t.cur.start, "", ""
	// ParseError prints `FILE: dns: MESSAGE: "TOKEN" at line: L:C`.
	if i := strings.Index(msg, ": dns: "); i >= 0 {
		if rel, ok := strings.CutPrefix(msg[:i], virtualDir+"/"); ok {
			file = t.src.Display(rel)
		}
		msg = msg[i+len(": dns: "):]
	}
	if i := strings.LastIndex(msg, " at line: "); i >= 0 {
		l, c, _ := strings.Cut(msg[i+len(" at line: "):], ":")
		if n, err := strconv.Atoi(l); err == nil {
			line, col = n, c
		}
		msg = msg[:i]
		if j := strings.LastIndex(msg, `: "`); j >= 0 {
			token, msg = msg[j+2:], msg[:j]
		}
	}
	var refused *includeError
	if errors.As(err, &refused) {
		// Name the path as written, and nothing of what it leads to.
		return &Error{Kind: KindOutside, File: file, Line: line,
			Msg: fmt.Sprintf("$INCLUDE %s refused: %s", token, refused.reason)}
	}
	if token != "" && file == t.src.Display(t.src.Rel) {
		// Only the zone file's own text is quoted: an included file may
		// be anything the provider keeps beside the zones.
		msg += ": " + token
	}
	if col != "" {
		msg += " (column " + col + ")"
	}
	return &Error{Kind: KindSyntax, File: file, Line: line, Msg: "syntax error: " + msg}
}
