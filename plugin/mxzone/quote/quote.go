// Package quote bounds what a message repeats of a customer's file: a
// finding, a log line or an API field quotes at most Max bytes of any one
// piece of file content, escaped, and says how much was left out, so that
// one tenant's 20 MB token cannot become a 20 MB log line.
package quote

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Max is the most bytes of one piece of file content a message quotes.
const Max = 100

// MaxText is the most bytes a whole message keeps (Text): the quotes in it
// are bounded already; this is the net under everything else.
const MaxText = 700

// Q quotes s as Go's %q does, cut to Max bytes of s: a cut quote ends in
// `...` after the closing quote, with the length of the whole, as in
// "v=spf1 aaaa"... (20971532 bytes).
func Q(s string) string {
	if len(s) <= Max {
		return strconv.Quote(s)
	}
	return strconv.Quote(cut(s, Max)) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// Text keeps s within MaxText bytes, printable ASCII only (Printable),
// marked as cut.
func Text(s string) string { return Cut(Printable(s), MaxText) }

// Cut keeps s within n bytes (on a UTF-8 boundary), marked as cut with the
// length of the whole.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cut(s, n) + "... (cut, " + strconv.Itoa(len(s)) + " bytes)"
}

// cut returns s's first n bytes or fewer, never half a UTF-8 sequence.
func cut(s string, n int) string {
	s = s[:n]
	for i := 0; i < utf8.UTFMax && len(s) > 0; i++ {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size != 1 {
			return s
		}
		s = s[:len(s)-1]
	}
	return s
}

// Printable escapes the bytes of s outside printable ASCII as \DDD, the zone
// file way, so that a name from a customer's file cannot put control
// sequences into a log line or a terminal.
func Printable(s string) string {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x7e {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for _, c := range []byte(s[i:]) {
		if c < 0x20 || c > 0x7e {
			fmt.Fprintf(&b, "\\%03d", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Sprintf is fmt.Sprintf with every string argument bounded: one printed
// with %q as Q prints it, one printed otherwise cut to MaxText bytes; the
// result is Text.
func Sprintf(format string, args ...any) string {
	for i, a := range args {
		if s, ok := a.(string); ok && len(s) > Max {
			args[i] = bounded(s)
		}
	}
	return Text(fmt.Sprintf(format, args...))
}

// bounded is a string argument of Sprintf.
type bounded string

// Format implements fmt.Formatter.
func (b bounded) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprint(f, Q(string(b)))
		return
	}
	fmt.Fprint(f, Cut(string(b), MaxText))
}
