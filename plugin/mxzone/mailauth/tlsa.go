package mailauth

import (
	"crypto/x509"
	"encoding/hex"
	"fmt"
)

// TLSA checks the fields of a TLSA record (RFC 6698 section 2.1) and, for
// a record of an SMTP server (under _25._tcp), RFC 7672. The certificate
// data is given in hex, as miekg/dns holds it.
func TLSA(usage, selector, matching uint8, data string, smtp bool) []Problem {
	var ps problems
	if usage > 3 {
		ps.add(Error, -1, -1, "certificate usage %d is not 0-3 (RFC 6698 section 2.1.1; 3, DANE-EE, is what mail uses)", usage)
	}
	if selector > 1 {
		ps.add(Error, -1, -1, "selector %d is not 0 (full certificate) or 1 (SubjectPublicKeyInfo) (RFC 6698 section 2.1.2)", selector)
	}
	raw, err := hex.DecodeString(data)
	switch {
	case matching > 2:
		ps.add(Error, -1, -1, "matching type %d is not 0 (exact), 1 (SHA-256) or 2 (SHA-512) (RFC 6698 section 2.1.3)", matching)
	case err != nil:
		ps.add(Error, -1, -1, "the certificate association data is not hexadecimal (RFC 6698 section 2.2)")
	case matching == 1 && len(raw) != 32, matching == 2 && len(raw) != 64:
		want := map[uint8]int{1: 32, 2: 64}[matching]
		ps.add(Error, -1, -1, "matching type %d is %s, %d octets (%d hex digits), but the data is %d octets: "+
			"a hash cut short or of another kind? (RFC 6698 section 2.1.3)", matching,
			map[uint8]string{1: "SHA-256", 2: "SHA-512"}[matching], want, 2*want, len(raw))
	case matching == 0 && selector <= 1:
		if msg := exactData(selector, raw); msg != "" {
			ps.add(Error, -1, -1, "%s (RFC 6698 section 2.1.3)", msg)
		}
	}
	if smtp && (usage == 0 || usage == 1) {
		ps.add(Warning, -1, -1, "certificate usage %d (PKIX-%s) is not for SMTP: DANE senders treat it as unusable "+
			"(RFC 7672 section 3.1.3); publish usage 3 (DANE-EE) or 2 (DANE-TA)", usage,
			map[uint8]string{0: "TA", 1: "EE"}[usage])
	}
	return ps
}

// exactData checks the data of a TLSA record of matching type 0: a whole
// certificate (selector 0) or SubjectPublicKeyInfo (selector 1).
func exactData(selector uint8, raw []byte) string {
	if selector == 0 {
		if _, err := x509.ParseCertificate(raw); err != nil {
			return fmt.Sprintf("matching type 0 with selector 0 holds a whole certificate, but the data does not parse as one: %v", err)
		}
		return ""
	}
	if _, err := x509.ParsePKIXPublicKey(raw); err != nil {
		return fmt.Sprintf("matching type 0 with selector 1 holds a SubjectPublicKeyInfo, but the data does not parse as one: %v", err)
	}
	return ""
}
