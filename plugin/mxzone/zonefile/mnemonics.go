package zonefile

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// keyAlgorithms writes, in the DNSKEY, CDNSKEY and KEY records of data, an
// algorithm given as its mnemonic ("RSASHA1": RFC 4034 section 2.2 allows
// it, and BIND and Knot read it) as its number, which is all miekg/dns reads
// there. Only the token changes: every record keeps its line.
func keyAlgorithms(data []byte) []byte {
	if !bytes.Contains(bytes.ToUpper(data), []byte("KEY")) {
		return data
	}
	var out []byte
	for rest := data; len(rest) > 0; {
		end := bytes.IndexByte(rest, '\n') + 1
		if end == 0 {
			end = len(rest)
		}
		line := rest[:end]
		rest = rest[end:]
		if fixed, ok := keyAlgorithmLine(line); ok {
			if out == nil {
				out = append(make([]byte, 0, len(data)), data[:len(data)-len(rest)-len(line)]...)
			}
			line = fixed
		}
		if out != nil {
			out = append(out, line...)
		}
	}
	if out == nil {
		return data
	}
	return out
}

// keyAlgorithmLine rewrites the algorithm mnemonic of a key record on line,
// if there is one; false: the line is left as it is.
func keyAlgorithmLine(line []byte) ([]byte, bool) {
	toks := tokens(line)
	for k := 0; k < len(toks) && k <= 3; k++ { // owner, TTL and class come first
		switch strings.ToUpper(string(line[toks[k][0]:toks[k][1]])) {
		case "DNSKEY", "CDNSKEY", "KEY":
		default:
			continue
		}
		if k+3 >= len(toks) {
			return nil, false
		}
		alg := toks[k+3]
		n, ok := dns.StringToAlgorithm[strings.ToUpper(string(line[alg[0]:alg[1]]))]
		if !ok {
			return nil, false
		}
		fixed := append(append(append([]byte{}, line[:alg[0]]...), strconv.Itoa(int(n))...), line[alg[1]:]...)
		return fixed, true
	}
	return nil, false
}

// tokens returns where the fields of line are, before any comment;
// parentheses are not fields.
func tokens(line []byte) [][2]int {
	var out [][2]int
	for i := 0; i < len(line); {
		switch c := line[i]; {
		case c == ';' || c == '"':
			return out // a comment, or text: no key record field follows
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(' || c == ')':
			i++
		default:
			j := i
			for j < len(line) && !bytes.ContainsRune([]byte(" \t\r\n();\""), rune(line[j])) {
				j++
			}
			out = append(out, [2]int{i, j})
			i = j
		}
	}
	return out
}
