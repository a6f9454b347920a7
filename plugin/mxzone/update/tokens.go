package update

import "fmt"

// token is one word, quoted string or punctuation mark of a policy file.
type token struct {
	text   string
	quoted bool
	line   int
}

// tokenize splits a named.conf-style file into tokens, dropping comments
// (#, // and /* */).
func tokenize(file string, data []byte) ([]token, error) {
	var out []token
	line := 1
	for i := 0; i < len(data); {
		c := data[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#' || (c == '/' && i+1 < len(data) && data[i+1] == '/'):
			for i < len(data) && data[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(data) && data[i+1] == '*':
			start := line
			i += 2
			for ; i < len(data) && !(data[i] == '*' && i+1 < len(data) && data[i+1] == '/'); i++ {
				if data[i] == '\n' {
					line++
				}
			}
			if i >= len(data) {
				return nil, &Error{File: file, Line: start, Msg: "comment is not closed with */"}
			}
			i += 2
		case c == '{' || c == '}' || c == ';':
			out = append(out, token{text: string(c), line: line})
			i++
		case c == '"':
			start := line
			j := i + 1
			for j < len(data) && data[j] != '"' && data[j] != '\n' {
				j++
			}
			if j >= len(data) || data[j] != '"' {
				return nil, &Error{File: file, Line: start, Msg: "quoted string is not closed on its line"}
			}
			out = append(out, token{text: string(data[i+1 : j]), quoted: true, line: line})
			i = j + 1
		case c < ' ' || c == 0x7f:
			return nil, &Error{File: file, Line: line, Msg: fmt.Sprintf("control byte 0x%02x", c)}
		default:
			j := i
			for j < len(data) && !isSpecial(data[j]) {
				j++
			}
			out = append(out, token{text: string(data[i:j]), line: line})
			i = j
		}
	}
	return out, nil
}

func isSpecial(c byte) bool {
	return c <= ' ' || c == '{' || c == '}' || c == ';' || c == '"' || c == '#' || c == 0x7f
}

// reader walks the tokens of one file.
type reader struct {
	file string
	toks []token
	pos  int
}

func (r *reader) done() bool { return r.pos >= len(r.toks) }

// next returns the next token; at the end, an empty one on the last line.
func (r *reader) next() token {
	t := r.peek()
	if r.pos < len(r.toks) {
		r.pos++
	}
	return t
}

func (r *reader) peek() token {
	if r.pos >= len(r.toks) {
		return token{line: r.lastLine()}
	}
	return r.toks[r.pos]
}

func (r *reader) lastLine() int {
	if len(r.toks) == 0 {
		return 1
	}
	return r.toks[len(r.toks)-1].line
}

// expect reads the punctuation mark want.
func (r *reader) expect(want string) error {
	t := r.next()
	if t.text != want || t.quoted {
		if t.text == "" {
			return r.errAt(t.line, "expected %q at the end of the file", want)
		}
		return r.errAt(t.line, "expected %q, found %q", want, cut(t.text))
	}
	return nil
}

func (r *reader) errAt(line int, format string, args ...any) error {
	return &Error{File: r.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}
