package mailauth

import (
	"net/url"
	"strings"
)

// IsMTASTS reports whether text is an MTA-STS record as senders select
// them: it starts with v=STSv1 (RFC 8461 section 3.1).
func IsMTASTS(text string) bool { return versionIs(text, "STSv1") }

// IsTLSRPT reports whether text is a TLS-RPT record as senders select them:
// it starts with v=TLSRPTv1 (RFC 8460 section 3).
func IsTLSRPT(text string) bool { return versionIs(text, "TLSRPTv1") }

// versionIs reports whether text starts "v" *WSP "=" *WSP version, ended by
// white space, ";" or the end.
func versionIs(text, version string) bool {
	rest, ok := strings.CutPrefix(text, "v")
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(strings.TrimLeft(rest, " \t"), "=")
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(strings.TrimLeft(rest, " \t"), version)
	return ok && (rest == "" || strings.IndexByte(" \t;", rest[0]) >= 0)
}

// fields splits an MTA-STS or TLS-RPT record after its version into
// name=value fields (sts-field-delim = *WSP ";" *WSP). A field that is not
// name=value, with a value of printable characters but ";" and "=", is an
// Error (the rua= of TLS-RPT holds URIs, which may contain "=").
func fields(text, rfc string) ([]tag, problems) {
	first := strings.IndexByte(text, ';')
	if first < 0 {
		return nil, nil
	}
	tags, ps := parseTags(text[first+1:], Error, rfc, extName)
	for i := range ps {
		ps[i].At, ps[i].End = ps[i].At+first+1, ps[i].End+first+1
	}
	out := tags[:0]
	for _, t := range tags {
		t.at, t.end, t.valueAt = t.at+first+1, t.end+first+1, t.valueAt+first+1
		if t.name != "rua" && !extValue(t.value) {
			ps.add(Error, t.at, t.end, "%q: a field's value is printable characters other than ; and =, and "+
				"not empty (%s)", text[t.at:t.end], rfc)
			continue
		}
		out = append(out, t)
	}
	return out, ps
}

// extName: (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".").
func extName(s string) bool {
	if s == "" || len(s) > 32 || !isAlpha(s[0]) && !isDigit(s[0]) {
		return false
	}
	for _, c := range []byte(s) {
		if !isAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// extValue: 1*(%x21-3A / %x3C / %x3E-7E).
func extValue(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < 0x21 || c > 0x7e || c == ';' || c == '=' {
			return false
		}
	}
	return true
}

const stsRFC = "RFC 8461 section 3.1"

// ParseMTASTS checks an MTA-STS record, one that IsMTASTS selected.
func ParseMTASTS(text string) []Problem {
	tags, ps := fields(text, stsRFC)
	id := find(tags, "id")
	if id == nil {
		ps.add(Error, -1, -1, "the record has no id= field, so senders never fetch the policy (%s); add "+
			"id=YYYYMMDDhhmmss and change it whenever the policy file changes", stsRFC)
		return ps
	}
	ok := len(id.value) >= 1 && len(id.value) <= 32
	for _, c := range []byte(id.value) {
		ok = ok && (isAlpha(c) || isDigit(c))
	}
	if !ok {
		ps.add(Error, id.at, id.end, "%q: id= is 1 to 32 letters and digits, nothing else (%s); a date and time "+
			"such as id=20261130120000 is the usual choice", text[id.at:id.end], stsRFC)
	}
	return ps
}

const tlsrptRFC = "RFC 8460 section 3"

// ParseTLSRPT checks a TLS-RPT record, one that IsTLSRPT selected.
func ParseTLSRPT(text string) []Problem {
	tags, ps := fields(text, tlsrptRFC)
	rua := find(tags, "rua")
	if rua == nil {
		ps.add(Error, -1, -1, "the record has no rua= field: senders have nowhere to send reports (%s); add "+
			"rua=mailto:tls-reports@YOUR-DOMAIN", tlsrptRFC)
		return ps
	}
	for _, raw := range strings.Split(rua.value, ",") {
		item := strings.TrimSpace(raw)
		u, err := url.Parse(item)
		if err == nil && (u.Scheme == "mailto" && u.Opaque != "" || u.Scheme == "https" && u.Host != "") {
			continue
		}
		at := rua.valueAt + strings.Index(rua.value, item)
		ps.add(Error, at, at+len(item), "rua= entry %q is not a mailto: or https: URI (%s)", item, tlsrptRFC)
	}
	return ps
}
