package mxzone

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// zoneSuffix marks the files of a zone directory that are zones.
const zoneSuffix = ".zone"

// Limits bound what customer files may make the server hold, so that a
// hostile or broken file becomes a finding and never an out-of-memory.
type Limits struct {
	FileBytes int64 // bytes in one zone file and its includes together
	Records   int   // records in one zone
	Zones     int   // zone files served; files beyond are refused
}

// DefaultLimits are generous for customer zones and safe for the server: a
// zone of 200,000 records takes about 30 MB.
func DefaultLimits() Limits {
	return Limits{FileBytes: 64 << 20, Records: 200_000, Zones: 2_000_000}
}

// virtualDir prefixes the file names handed to the zone parser. The parser
// joins $INCLUDE paths to them; a path that has lost the prefix was absolute
// or climbed out with "..", and includeFS refuses it.
const virtualDir = "zonedir"

// originFromFileName turns "example.com.zone" into "example.com.".
func originFromFileName(name string) (string, error) {
	base, ok := strings.CutSuffix(name, zoneSuffix)
	if !ok || base == "" {
		return "", fmt.Errorf("file name %q does not end in %q after a domain name", name, zoneSuffix)
	}
	origin := dns.Fqdn(strings.ToLower(base))
	if _, ok := dns.IsDomainName(origin); !ok || strings.Contains(base, "..") || strings.HasPrefix(base, ".") {
		return "", fmt.Errorf("file name %q does not name a valid domain", name)
	}
	return origin, nil
}

// source describes one zone file to read.
type source struct {
	root    *os.Root // the zone directory; nothing outside it is read
	dirfd   int      // an open descriptor of the directory, or -1
	dir     string   // the zone directory as shown to the operator
	rel     string   // the file's name inside root
	file    string   // the file as shown to the operator
	origin  string
	maxSize int64
	maxRRs  int // records; 0: no limit
	// settle, when set, is how long a zone file without a final newline
	// must have been left alone before it is read: until then it is taken
	// to be in the middle of being written (reloads only).
	settle time.Duration
}

// display is the path of rel as the operator knows it.
func (s source) display(rel string) string {
	if rel == s.rel && s.file != "" {
		return s.file
	}
	return filepath.Join(s.dir, filepath.FromSlash(rel))
}

// parsed is the outcome of reading and checking one zone file on its own.
type parsed struct {
	zone     *Zone // nil when the file did not parse
	ok       bool  // no finding stops the zone from being served
	findings []Finding
	stamp    fileStamp      // of the zone file as it was read
	includes []includeStamp // files read through $INCLUDE
	busy     bool           // the file is being written: not read, try again later
}

// parseZone reads one zone file with its includes and applies the rules that
// need only this zone. The cross-zone MX checks come later (crossCheck).
func parseZone(src source, policy *Policy) (p parsed) {
	file := src.display(src.rel)
	fs := &findings{policy: policy, zone: src.origin}
	defer func() {
		// The parser is fed customer data: whatever it does, the server lives on.
		if r := recover(); r != nil {
			fs.add(RuleSyntax, file, 0, src.origin, "zone file could not be parsed: %v", r)
			p = parsed{findings: fs.list}
		}
	}()
	recs, t, err := readRecords(src)
	p.stamp, p.includes = t.stamp, t.includes
	if errors.Is(err, errBusy) {
		p.busy = true
		return p
	}
	if err != nil {
		var fe *fileError
		if errors.As(err, &fe) {
			fs.add(fe.rule, fe.file, fe.line, src.origin, "%s", fe.msg)
		} else {
			fs.add(RuleSyntax, file, 0, src.origin, "%s", err.Error())
		}
		p.findings = fs.list
		return p
	}
	keep := checkLocal(src.origin, file, recs, fs)
	p.findings = fs.list
	p.ok = !failed(fs.list)
	var includes []string
	for _, inc := range p.includes {
		includes = append(includes, src.display(inc.rel))
	}
	p.zone = buildZone(src.origin, file, includes, keep)
	return p
}

// fileError is a problem with the file itself, at a known place.
type fileError struct {
	rule Rule
	file string
	line int
	msg  string
}

func (e *fileError) Error() string { return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg) }

// readRecords parses src and its includes, returning each record with the
// file and line it starts on.
func readRecords(src source) ([]sourcedRR, *tracker, error) {
	t := &tracker{src: src}
	top, err := t.open(src.rel)
	if errors.Is(err, errBusy) {
		return nil, t, err
	}
	if err != nil {
		rule, msg := RuleSyntax, err.Error()
		var errno syscall.Errno
		switch {
		case errors.Is(err, errEscapes):
			rule = RuleIsolation
		case errors.As(err, &errno):
			msg = "cannot read the zone file: " + msg
		}
		return nil, t, &fileError{rule: rule, file: src.display(src.rel), msg: msg}
	}
	t.cur = top
	if recs, ok := fastParse(top.data, src.origin, top.file, src.maxRRs); ok {
		return recs, t, nil
	}
	zp := dns.NewZoneParser(top, src.origin, path.Join(virtualDir, src.rel))
	zp.SetIncludeAllowed(true)
	zp.SetIncludeFS(includeFS{t})
	recs := make([]sourcedRR, 0, 16)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		cur := t.cur
		if src.maxRRs > 0 && len(recs) >= src.maxRRs {
			return nil, t, &fileError{rule: RuleSyntax, file: cur.file, line: cur.start,
				msg: fmt.Sprintf("zone has more than the limit of %d records", src.maxRRs)}
		}
		recs = append(recs, sourcedRR{rr: rr, file: cur.file, line: cur.start})
	}
	if err := zp.Err(); err != nil {
		if t.busy {
			return nil, t, errBusy // an $INCLUDE file changed while it was read
		}
		return nil, t, t.parseError(err)
	}
	return recs, t, nil
}

// parseError turns the parser's error into a fileError with the right file
// and line. A refused $INCLUDE is reported without the text of the file it
// named.
func (t *tracker) parseError(err error) error {
	var limit *limitError
	if errors.As(err, &limit) {
		return &fileError{rule: RuleSyntax, file: t.src.display(limit.rel), msg: limit.Error()}
	}
	msg := err.Error()
	file, line, col, token := t.src.display(t.cur.rel), t.cur.start, "", ""
	// ParseError prints `FILE: dns: MESSAGE: "TOKEN" at line: L:C`.
	if i := strings.Index(msg, ": dns: "); i >= 0 {
		if rel, ok := strings.CutPrefix(msg[:i], virtualDir+"/"); ok {
			file = t.src.display(rel)
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
		return &fileError{rule: RuleIsolation, file: file, line: line,
			msg: fmt.Sprintf("$INCLUDE %s refused: %s", token, refused.reason)}
	}
	if token != "" {
		msg += ": " + token
	}
	if col != "" {
		msg += " (column " + col + ")"
	}
	return &fileError{rule: RuleSyntax, file: file, line: line, msg: "syntax error: " + msg}
}

// tracker knows which file the parser is reading and where the record being
// parsed started, which the parser itself does not tell.
type tracker struct {
	src      source
	cur      *lineReader
	read     int64          // bytes read over all files
	stamp    fileStamp      // of the zone file as read
	includes []includeStamp // files read through $INCLUDE
	busy     bool           // a file changed while it was read
}

// includeError is a refused $INCLUDE. Its text names the path only.
type includeError struct {
	name   string
	reason string
}

func (e *includeError) Error() string {
	return fmt.Sprintf("$INCLUDE %q refused: %s", e.name, e.reason)
}

// limitError says the files of one zone hold more bytes than allowed.
type limitError struct {
	rel   string
	limit int64
}

func (e *limitError) Error() string {
	return fmt.Sprintf("zone file and its includes exceed the limit of %d bytes", e.limit)
}

// open reads rel inside the zone directory, a regular file, into memory. It
// never blocks on a FIFO or device and never follows a link out of the
// directory. Zone files directly in the directory take the fast path: one
// openat on the directory, one fstat, one read.
func (t *tracker) open(rel string) (*lineReader, error) {
	include := rel != t.src.rel
	var data []byte
	var stamp fileStamp
	var err error
	if t.src.dirfd >= 0 && !strings.ContainsRune(rel, '/') {
		data, stamp, err = readAt(t.src.dirfd, rel, t.src.maxSize-t.read, t.src.settle > 0)
		if errors.Is(err, syscall.ELOOP) && !include {
			data, stamp, err = t.readRoot(rel) // a symlink: allowed if it stays inside
		} else if errors.Is(err, syscall.ELOOP) {
			err = errors.New("is a symbolic link")
		}
	} else {
		data, stamp, err = t.readRoot(rel)
	}
	if errors.Is(err, errTooLarge) || err == nil && int64(len(data)) > t.src.maxSize-t.read {
		return nil, &limitError{rel: rel, limit: t.src.maxSize}
	}
	if errors.Is(err, errBusy) {
		if t.src.settle == 0 {
			// The first load takes what it saw; the stamp taken before
			// reading makes the next scan read the file again.
			err = nil
		} else {
			t.busy = true
		}
	}
	if err != nil {
		return nil, err
	}
	if !include && t.src.settle > 0 && len(data) > 0 && data[len(data)-1] != '\n' &&
		time.Since(time.Unix(0, stamp.mtime)) < t.src.settle {
		// Most likely cut off by a writer that is not done yet.
		return nil, errBusy
	}
	t.read += int64(len(data))
	if !include {
		t.stamp = stamp
	} else {
		t.includes = append(t.includes, includeStamp{rel: rel, stamp: stamp})
	}
	return &lineReader{t: t, data: data, rel: rel, file: t.src.display(rel), line: 1, atStart: true}, nil
}

// readAt reads name in the directory dirfd, refusing symlinks (ELOOP) and
// anything but a regular file, and at most limit+1 bytes. With recheck it
// stats the file again after reading and returns the data with errBusy if
// it changed meanwhile (the first load does not: one syscall per file).
func readAt(dirfd int, name string, limit int64, recheck bool) ([]byte, fileStamp, error) {
	fd, err := syscall.Openat(dirfd, name, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fileStamp{}, err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, fileStamp{}, err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, fileStamp{}, errNotRegular
	}
	stamp := stampOfStat(&st)
	if st.Size > limit {
		return nil, stamp, errTooLarge
	}
	buf := make([]byte, st.Size+1) // one more: a file that grew is still read whole
	n := 0
	for {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, stamp, err
		}
		if m == 0 {
			return buf[:n], stamp, recheckStamp(recheck, fd, stamp)
		}
		if n += m; int64(n) > limit {
			return nil, stamp, errTooLarge
		}
		if int64(n) == st.Size && n < len(buf) {
			// All that fstat saw. A file that grows meanwhile changes its
			// stamp, and the next event or rescan reads it again.
			return buf[:n], stamp, recheckStamp(recheck, fd, stamp)
		}
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
	}
}

// recheckStamp is unchangedSince when recheck is set.
func recheckStamp(recheck bool, fd int, stamp fileStamp) error {
	if !recheck {
		return nil
	}
	return unchangedSince(fd, stamp)
}

// unchangedSince returns errBusy if the open file fd no longer matches the
// stamp taken before reading it: a writer changed it while it was read.
func unchangedSince(fd int, before fileStamp) error {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return err
	}
	if stampOfStat(&st) != before {
		return errBusy
	}
	return nil
}

// errBusy says a zone file is being written: it is left as it was served
// and read again once the writer is done.
var errBusy = errors.New("is being written")

// errEscapes refuses a symlink that leaves the zone directory.
var errEscapes = errors.New("is a symbolic link that leads outside the zone directory or in a loop")

// errNotRegular refuses directories, FIFOs, devices and sockets.
var errNotRegular = errors.New("is not a regular file")

// errTooLarge says a file holds more than the zone may read.
var errTooLarge = errors.New("too large")

// readRoot reads rel through the os.Root of the zone directory, which keeps
// every step, symlinks included, inside it.
func (t *tracker) readRoot(rel string) ([]byte, fileStamp, error) {
	st, err := t.src.root.Lstat(rel)
	if err != nil {
		return nil, fileStamp{}, cleanPathError(err)
	}
	switch {
	case st.Mode()&fs.ModeSymlink != 0 && rel != t.src.rel:
		return nil, fileStamp{}, errors.New("is a symbolic link")
	case st.Mode()&fs.ModeSymlink == 0 && !st.Mode().IsRegular():
		return nil, fileStamp{}, errNotRegular
	}
	f, err := t.src.root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fileStamp{}, cleanPathError(err)
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, fileStamp{}, cleanPathError(err)
	}
	if !st.Mode().IsRegular() {
		return nil, fileStamp{}, errNotRegular
	}
	data, err := io.ReadAll(io.LimitReader(f, max(t.src.maxSize-t.read, 0)+1))
	if err != nil {
		return nil, fileStamp{}, err
	}
	after, err := f.Stat()
	if err != nil {
		return nil, fileStamp{}, cleanPathError(err)
	}
	if stampOf(after) != stampOf(st) {
		return data, stampOf(st), errBusy
	}
	return data, stampOf(st), nil
}

// cleanPathError keeps the reason of a file-system error and drops the path,
// which the finding already shows.
func cleanPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, syscall.ELOOP) || strings.Contains(pe.Err.Error(), "escapes") {
			return errEscapes
		}
		return pe.Err
	}
	return err
}

// includeFS serves $INCLUDE targets from the zone directory only.
type includeFS struct{ t *tracker }

// Open is called by the parser with the include path joined to the including
// file's virtual name.
func (i includeFS) Open(name string) (fs.File, error) {
	rel, ok := strings.CutPrefix(name, virtualDir+"/")
	if !ok {
		return nil, &includeError{name: name, reason: "the path leads outside the zone directory"}
	}
	lr, err := i.t.open(rel)
	if err != nil {
		var limit *limitError
		if errors.As(err, &limit) {
			return nil, err
		}
		return nil, &includeError{name: rel, reason: err.Error()}
	}
	return lr, nil
}

// lineReader feeds the parser one byte at a time and follows the zone file
// syntax just enough to know the line on which each record starts: the
// first byte that is not blank or comment after a newline outside
// parentheses and quotes.
type lineReader struct {
	t    *tracker
	data []byte
	pos  int
	rel  string
	file string // rel as the operator knows it

	line    int // line of the next byte
	start   int // line on which the current record started
	depth   int // open parentheses
	atStart bool
	quote   bool
	comment bool
	escape  bool
}

// ReadByte implements io.ByteReader, which the parser uses directly.
func (l *lineReader) ReadByte() (byte, error) {
	if l.pos >= len(l.data) {
		return 0, io.EOF
	}
	c := l.data[l.pos]
	l.pos++
	l.t.cur = l
	l.track(c)
	return c, nil
}

func (l *lineReader) track(c byte) {
	switch {
	case c == '\n':
		l.line++
		l.comment = false
		l.escape = false
		if l.depth == 0 && !l.quote {
			l.atStart = true
		}
		return
	case l.comment:
		return
	case l.escape:
		l.escape = false
	case c == '\\':
		l.escape = true
	case c == '"':
		l.quote = !l.quote
	case l.quote:
	case c == ';':
		l.comment = true
		return
	case c == '(':
		l.depth++
	case c == ')':
		l.depth = max(l.depth-1, 0)
	case c == ' ' || c == '\t' || c == '\r':
		return
	}
	if l.atStart {
		l.start = l.line
		l.atStart = false
	}
}

// Read implements io.Reader for fs.File.
func (l *lineReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c, err := l.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		p[n] = c
		n++
	}
	return n, nil
}

// Stat implements fs.File.
func (l *lineReader) Stat() (fs.FileInfo, error) { return nil, errors.ErrUnsupported }

// Close implements fs.File.
func (l *lineReader) Close() error { return nil }
