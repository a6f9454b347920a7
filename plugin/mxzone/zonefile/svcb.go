package zonefile

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// markerType stands, while dns.ZoneParser reads a file, for an SVCB or
// HTTPS record it cannot hold: one whose ipv6hint gives an IPv4-mapped
// address (RFC 9460 appendix D, "::ffff:198.51.100.100"), which miekg/dns
// refuses both in text and on the wire. Such a record is read as RFC 3597
// data of this type and given its own type back by line (Retypes): a record
// the file itself writes as TYPE65534 keeps that type.
const markerType = 65534

// Retypes maps the lines whose record was read under markerType to the
// type it really has.
type Retypes map[int]uint16

// mappedHints writes the SVCB and HTTPS records of data whose ipv6hint
// holds an IPv4-mapped address in the RFC 3597 form under markerType,
// returning data itself when there are none. Only one-line records with
// an absolute target (or ".") are rewritten: any other is left as it is,
// for the parser to report.
func mappedHints(data []byte) ([]byte, Retypes) {
	var types Retypes
	lineNo := 0
	out := rewriteLines(data, func(line []byte) ([]byte, bool) {
		lineNo++
		fixed, typ, ok := mappedHintLine(line)
		if ok {
			if types == nil {
				types = Retypes{}
			}
			types[lineNo] = typ
		}
		return fixed, ok
	})
	return out, types
}

// svcbTypes are the names of the types with SVCB's RDATA.
var svcbTypes = map[string]uint16{"SVCB": dns.TypeSVCB, "HTTPS": dns.TypeHTTPS, "TYPE64": dns.TypeSVCB, "TYPE65": dns.TypeHTTPS}

func mappedHintLine(line []byte) ([]byte, uint16, bool) {
	toks := tokens(line)
	for k := 0; k < len(toks) && k <= 3; k++ {
		typ, ok := svcbTypes[strings.ToUpper(string(line[toks[k][0]:toks[k][1]]))]
		if !ok {
			continue
		}
		rest := line[toks[k][1]:]
		end, ok := rdataEnd(rest)
		if !ok {
			return nil, 0, false
		}
		rdata, ok := svcbRdata(strings.TrimSpace(string(rest[:end])))
		if !ok {
			return nil, 0, false
		}
		form := fmt.Sprintf("TYPE%d \\# %d %x", markerType, len(rdata), rdata)
		return append(append(append([]byte{}, line[:toks[k][0]]...), form...), rest[end:]...), typ, true
	}
	return nil, 0, false
}

// rdataEnd is where the RDATA of a one-line record ends in rest: at a
// comment or the end of the line. False: the record goes on in
// parentheses to another line.
func rdataEnd(rest []byte) (int, bool) {
	quoted, depth := false, 0
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == ';' || c == '\n' || c == '\r':
			return i, depth == 0
		case c == '(':
			depth++
		case c == ')':
			depth--
		}
	}
	return len(rest), !quoted && depth == 0
}

// svcbRdata is the wire form of SVCB RDATA text whose ipv6hint holds an
// IPv4-mapped address; false for any other (miekg/dns reads those).
func svcbRdata(text string) ([]byte, bool) {
	if rest, ok := strings.CutPrefix(text, `\#`); ok {
		return genericSVCB(rest)
	}
	fields := splitQuoted(text)
	if len(fields) < 2 || !strings.HasSuffix(fields[1], ".") || strings.HasSuffix(fields[1], `\.`) {
		return nil, false
	}
	var hints []net.IP
	for i, f := range fields[2:] {
		key, value, ok := strings.Cut(f, "=")
		if !ok || !strings.EqualFold(key, "ipv6hint") && !strings.EqualFold(key, "key6") {
			continue
		}
		value = strings.Trim(value, `"`)
		mapped := false
		for _, a := range strings.Split(value, ",") {
			ip := net.ParseIP(a)
			if ip == nil || !strings.Contains(a, ":") || strings.Contains(a, "%") { // IPv6 text only
				return nil, false
			}
			mapped = mapped || ip.To4() != nil
			hints = append(hints, ip.To16())
		}
		if !mapped {
			return nil, false
		}
		fields[2+i] = key + "=" + strings.TrimSuffix(strings.Repeat("::,", len(hints)), ",")
	}
	if hints == nil {
		return nil, false
	}
	rr, err := dns.NewRR(". 0 IN SVCB " + strings.Join(fields, " "))
	if err != nil {
		return nil, false
	}
	buf := make([]byte, dns.Len(rr)+64)
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return nil, false
	}
	rdata := buf[11:n] // after ".", type, class, TTL and length
	value, ok := hintValue(rdata)
	if !ok || len(value) != 16*len(hints) {
		return nil, false
	}
	for i, ip := range hints {
		copy(value[16*i:], ip)
	}
	return rdata, true
}

// genericSVCB reads RFC 3597 RDATA (after `\#`) of an SVCB record, as the
// state directory's copies write the records mappedHints made: only one
// with an IPv4-mapped hint is taken.
func genericSVCB(rest string) ([]byte, bool) {
	f := splitQuoted(rest)
	if len(f) < 2 {
		return nil, false
	}
	n, err := strconv.Atoi(f[0])
	rdata, herr := hex.DecodeString(strings.Join(f[1:], ""))
	if err != nil || herr != nil || n != len(rdata) {
		return nil, false
	}
	value, ok := hintValue(rdata)
	if !ok || len(value) == 0 || len(value)%16 != 0 {
		return nil, false
	}
	for i := 0; i < len(value); i += 16 {
		if net.IP(value[i:i+16]).To4() != nil {
			return rdata, true
		}
	}
	return nil, false
}

// hintValue is the value of the ipv6hint parameter (key 6) in SVCB RDATA:
// priority, target name, then key, length, value (RFC 9460 section 2.2).
func hintValue(rdata []byte) ([]byte, bool) {
	if len(rdata) < 3 {
		return nil, false
	}
	off := 2
	for off < len(rdata) && rdata[off] != 0 {
		if rdata[off] >= 64 { // a pointer: not in SVCB (RFC 9460 section 2.2)
			return nil, false
		}
		off += int(rdata[off]) + 1
	}
	off++
	for off+4 <= len(rdata) {
		key := binary.BigEndian.Uint16(rdata[off:])
		l := int(binary.BigEndian.Uint16(rdata[off+2:]))
		if off+4+l > len(rdata) {
			return nil, false
		}
		if key == 6 {
			return rdata[off+4 : off+4+l], true
		}
		off += 4 + l
	}
	return nil, false
}

// splitQuoted splits text at blanks and parentheses outside quotes.
func splitQuoted(text string) []string {
	var out []string
	start, quoted := -1, false
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\\' && start >= 0:
			i++
			continue
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ' ' || c == '\t' || c == '(' || c == ')'):
			if start >= 0 {
				out = append(out, text[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
			if c == '\\' {
				i++
			}
		}
	}
	if start >= 0 {
		out = append(out, text[start:])
	}
	return out
}
