package zonefile

import (
	"errors"
	"io"
	"io/fs"
)

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
