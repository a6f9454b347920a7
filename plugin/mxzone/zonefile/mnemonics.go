package zonefile

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// keyAlgorithms writes, in the DNSKEY, CDNSKEY and KEY records of data, an
// algorithm given as its mnemonic ("RSASHA1": RFC 4034 section 2.2 allows
// it, and BIND and Knot read it) as its number, which is all miekg/dns reads
// there. Only the token changes: every record keeps its line.
func keyAlgorithms(data []byte) []byte {
	return rewriteLines(data, keyAlgorithmLine)
}

// keyAlgorithmLine rewrites the algorithm mnemonic of a key record on line,
// if there is one; false: the line is left as it is.
func keyAlgorithmLine(line []byte) ([]byte, bool) {
	toks := tokens(line)
	return atType(line, toks, func(k int) ([]byte, bool) {
		switch strings.ToUpper(string(line[toks[k][0]:toks[k][1]])) {
		case "DNSKEY", "CDNSKEY", "KEY":
		default:
			return nil, false
		}
		if k+3 >= len(toks) {
			return nil, false
		}
		alg := toks[k+3]
		n, ok := dns.StringToAlgorithm[strings.ToUpper(string(line[alg[0]:alg[1]]))]
		if !ok {
			return nil, false
		}
		return append(append(append([]byte{}, line[:alg[0]]...), strconv.Itoa(int(n))...), line[alg[1]:]...), true
	})
}

// atType returns what fix makes of line with the record's type taken to be
// its k-th field, for the first k (owner, TTL and class come first, so at
// most the fourth) it makes something of: a field may spell a type and be
// the owner ("wks IN WKS ...").
func atType(line []byte, toks [][2]int, fix func(k int) ([]byte, bool)) ([]byte, bool) {
	for k := 0; k < len(toks) && k <= 3; k++ {
		if out, ok := fix(k); ok {
			return out, true
		}
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

// wellKnown are the service names a WKS record may give instead of port
// numbers, as /etc/services has them.
var wellKnown = map[string]int{
	"ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "time": 37, "domain": 53, "tftp": 69,
	"finger": 79, "http": 80, "www": 80, "pop3": 110, "sunrpc": 111, "nntp": 119, "ntp": 123, "imap": 143,
	"snmp": 161, "ldap": 389, "https": 443, "submission": 587, "ldaps": 636, "imaps": 993, "pop3s": 995,
}

// wksRecords writes the WKS records of data (RFC 1035 section 3.4.2:
// ADDRESS PROTOCOL SERVICES..., which miekg/dns does not know) in the RFC
// 3597 form, TYPE11 \# LENGTH HEX, so that they are read and served as
// data, as BIND and Knot serve them. A WKS record it cannot make sense of is
// left as it is, for the parser to report.
func wksRecords(data []byte) []byte {
	return rewriteLines(data, wksLine)
}

func wksLine(line []byte) ([]byte, bool) {
	toks := tokens(line)
	return atType(line, toks, func(k int) ([]byte, bool) {
		if !strings.EqualFold(string(line[toks[k][0]:toks[k][1]]), "WKS") {
			return nil, false
		}
		fields := toks[k+1:]
		if len(fields) < 2 {
			return nil, false
		}
		text := func(f [2]int) string { return strings.ToLower(string(line[f[0]:f[1]])) }
		addr := net.ParseIP(text(fields[0])).To4()
		proto := map[string]int{"tcp": 6, "udp": 17}[text(fields[1])]
		if n, err := strconv.Atoi(text(fields[1])); err == nil && n >= 0 && n < 256 {
			proto = n
		}
		if addr == nil || proto == 0 {
			return nil, false
		}
		var bitmap []byte
		for _, f := range fields[2:] {
			port, ok := wellKnown[text(f)]
			if n, err := strconv.Atoi(text(f)); err == nil && n >= 0 && n < 65536 {
				port, ok = n, true
			}
			if !ok {
				return nil, false
			}
			for len(bitmap) <= port/8 {
				bitmap = append(bitmap, 0)
			}
			bitmap[port/8] |= 0x80 >> (port % 8)
		}
		rdata := append(append(append([]byte{}, addr...), byte(proto)), bitmap...)
		form := fmt.Sprintf("TYPE11 \\# %d %x", len(rdata), rdata)
		last := fields[len(fields)-1]
		return append(append(append([]byte{}, line[:toks[k][0]]...), form...), line[last[1]:]...), true
	})
}

// rewriteLines returns data with each line fix changes changed, and data
// itself when it changes none.
func rewriteLines(data []byte, fix func(line []byte) ([]byte, bool)) []byte {
	var out []byte
	for rest := data; len(rest) > 0; {
		end := bytes.IndexByte(rest, '\n') + 1
		if end == 0 {
			end = len(rest)
		}
		line := rest[:end]
		rest = rest[end:]
		if fixed, ok := fix(line); ok {
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

// ipseckeyRecords writes the IPSECKEY records of data, which miekg/dns
// reads past the end of their line into the next record, in the RFC 3597
// form: precedence, gateway type, algorithm, gateway (none, an IPv4 or IPv6
// address, or a fully qualified name) and the public key (RFC 4025 section
// 2). One it cannot make sense of is left as it is.
func ipseckeyRecords(data []byte) []byte {
	return rewriteLines(data, ipseckeyLine)
}

func ipseckeyLine(line []byte) ([]byte, bool) {
	toks := tokens(line)
	return atType(line, toks, func(k int) ([]byte, bool) {
		if !strings.EqualFold(string(line[toks[k][0]:toks[k][1]]), "IPSECKEY") {
			return nil, false
		}
		fields := toks[k+1:]
		if len(fields) < 4 {
			return nil, false
		}
		var num [3]int
		for i := range num {
			n, err := strconv.Atoi(string(line[fields[i][0]:fields[i][1]]))
			if err != nil || n < 0 || n > 255 {
				return nil, false
			}
			num[i] = n
		}
		gateway, ok := ipseckeyGateway(num[1], string(line[fields[3][0]:fields[3][1]]))
		if !ok {
			return nil, false
		}
		var b64 strings.Builder
		for _, f := range fields[4:] {
			b64.Write(line[f[0]:f[1]])
		}
		key, err := base64.StdEncoding.DecodeString(b64.String())
		if err != nil {
			return nil, false
		}
		rdata := append(append([]byte{byte(num[0]), byte(num[1]), byte(num[2])}, gateway...), key...)
		form := fmt.Sprintf("TYPE45 \\# %d %x", len(rdata), rdata)
		last := fields[len(fields)-1]
		return append(append(append([]byte{}, line[:toks[k][0]]...), form...), line[last[1]:]...), true
	})
}

// ipseckeyGateway is the gateway field of an IPSECKEY record in wire form.
func ipseckeyGateway(kind int, text string) ([]byte, bool) {
	switch kind {
	case 0:
		return nil, text == "."
	case 1:
		ip := net.ParseIP(text).To4()
		return ip, ip != nil
	case 2:
		ip := net.ParseIP(text)
		if ip == nil || ip.To4() != nil {
			return nil, false
		}
		return ip.To16(), true
	case 3:
		if !dns.IsFqdn(text) {
			return nil, false // relative to an origin this pass does not know
		}
		buf := make([]byte, 256)
		n, err := dns.PackDomainName(text, buf, 0, nil, false)
		return buf[:n], err == nil
	}
	return nil, false
}

// quotedIncludes writes `$INCLUDE "a name.inc"` (a quoted file name, as
// BIND reads it) as `$INCLUDE a\ name.inc`, which miekg/dns's lexer takes as
// one token; includeFS.Open takes the escapes out again.
func quotedIncludes(data []byte) []byte {
	return rewriteLines(data, quotedIncludeLine)
}

func quotedIncludeLine(line []byte) ([]byte, bool) {
	const dir = "$INCLUDE"
	if len(line) < len(dir) || !strings.EqualFold(string(line[:len(dir)]), dir) {
		return nil, false
	}
	i := len(dir)
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if i == len(dir) || i >= len(line) || line[i] != '"' {
		return nil, false
	}
	end := bytes.IndexByte(line[i+1:], '"')
	if end < 0 {
		return nil, false
	}
	var name []byte
	for _, c := range line[i+1 : i+1+end] {
		if bytes.IndexByte([]byte(" \t\\;()\""), c) >= 0 {
			name = append(name, '\\')
		}
		name = append(name, c)
	}
	return append(append(append([]byte{}, line[:i]...), name...), line[i+2+end:]...), true
}

// unescapeName takes the backslash escapes of quotedIncludes out of a file
// name.
func unescapeName(name string) string {
	if !strings.Contains(name, `\`) {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] == '\\' && i+1 < len(name) {
			i++
		}
		b.WriteByte(name[i])
	}
	return b.String()
}

// rrsigDates writes the expiration and inception of RRSIG records given as
// dates after 2106 (YYYYMMDDHHmmSS past 2^32 seconds) as the numbers RFC
// 4034 section 3.1.5 makes of them: the seconds modulo 2^32, compared in
// serial arithmetic. miekg/dns subtracts multiples of 2^31 instead, 2^31
// seconds off. Records may run over several lines in parentheses; every
// token stays on its line.
func rrsigDates(data []byte) []byte {
	type span struct {
		start, end int
		text       string
	}
	var edits []span
	var rec [][2]int
	check := func() {
		for k := 0; k < len(rec) && k <= 3; k++ {
			if !strings.EqualFold(string(data[rec[k][0]:rec[k][1]]), "RRSIG") {
				continue
			}
			for _, j := range []int{k + 5, k + 6} { // expiration, inception
				if j >= len(rec) {
					break
				}
				tok := string(data[rec[j][0]:rec[j][1]])
				if t, err := time.Parse("20060102150405", tok); err == nil && len(tok) == 14 && t.Unix() >= 1<<32 {
					edits = append(edits, span{rec[j][0], rec[j][1], strconv.FormatUint(uint64(uint32(t.Unix())), 10)})
				}
			}
			break
		}
		rec = rec[:0]
	}
	depth := 0
	for i := 0; i < len(data); {
		switch c := data[i]; {
		case c == ';':
			for i < len(data) && data[i] != '\n' {
				i++
			}
		case c == '\n':
			if depth == 0 {
				check()
			}
			i++
		case c == '(':
			depth++
			i++
		case c == ')':
			depth = max(depth-1, 0)
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '"':
			j := i + 1
			for j < len(data) && data[j] != '"' && data[j] != '\n' {
				if data[j] == '\\' {
					j++
				}
				j++
			}
			rec = append(rec, [2]int{i, min(j+1, len(data))})
			i = min(j+1, len(data))
		default:
			j := i
			for j < len(data) && bytes.IndexByte([]byte(" \t\r\n();\""), data[j]) < 0 {
				if data[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j, len(data))
			rec = append(rec, [2]int{i, j})
			i = j
		}
	}
	check()
	if len(edits) == 0 {
		return data
	}
	out := make([]byte, 0, len(data))
	last := 0
	for _, e := range edits {
		out = append(append(out, data[last:e.start]...), e.text...)
		last = e.end
	}
	return append(out, data[last:]...)
}
