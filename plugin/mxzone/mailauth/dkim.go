package mailauth

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"strings"
)

// DKIMKey describes the key a DKIM key record (RFC 6376 section 3.6.1)
// publishes.
type DKIMKey struct {
	Type    string // k=: rsa or ed25519
	Bits    int    // RSA modulus size; 256 for Ed25519; 0: revoked or unreadable
	Revoked bool   // p= is empty
}

const dkimRFC = "RFC 6376 section 3.6.1"

// ParseDKIM reads the text of a TXT record at a DKIM selector
// (SELECTOR._domainkey.DOMAIN).
func ParseDKIM(text string) (*DKIMKey, []Problem) {
	key := &DKIMKey{Type: "rsa"}
	tags, ps := parseTags(text, Error, dkimRFC, tagName)
	if v := find(tags, "v"); v != nil && (&tags[0] != v || v.value != "DKIM1") {
		ps.add(Error, v.at, v.end, "%q: v= must be the first tag and exactly DKIM1, or verifiers discard the key (%s)",
			text[v.at:v.end], dkimRFC)
	}
	if k := find(tags, "k"); k != nil {
		key.Type = strings.ToLower(k.value)
		if key.Type != "rsa" && key.Type != "ed25519" {
			ps.add(Error, k.at, k.end, "%q: k= must be rsa or ed25519 (%s, RFC 8463)", text[k.at:k.end], dkimRFC)
			key.Type = ""
		}
	}
	for _, t := range tags {
		switch t.name {
		case "h":
			dkimHashes(text, t, &ps)
		case "s":
			dkimServices(text, t, &ps)
		case "t":
			for _, f := range splitList(t.value, ':') {
				if f == "y" {
					ps.add(Info, t.at, t.end, "t=y: the domain is testing DKIM, and verifiers may treat its signatures "+
						"as unsigned (%s)", dkimRFC)
				}
			}
		}
	}
	p := find(tags, "p")
	if p == nil {
		ps.add(Error, -1, -1, "the key record has no p= tag (%s): publish the public key as p=BASE64", dkimRFC)
		return key, ps
	}
	key.publicKey(text, *p, &ps)
	return key, ps
}

// publicKey checks p=.
func (key *DKIMKey) publicKey(text string, p tag, ps *problems) {
	b64 := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, p.value)
	if b64 == "" {
		key.Revoked = true
		ps.add(Info, p.at, p.end, "p= is empty: the key is revoked and signatures with this selector fail (%s)", dkimRFC)
		return
	}
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		ps.add(Error, p.at, p.end, "p= is not valid base64 (%v); a key cut short by a copy and paste? (%s)",
			err, dkimRFC)
		return
	}
	switch key.Type {
	case "ed25519":
		if len(der) != 32 {
			ps.add(Error, p.at, p.end, "p= holds %d octets; an Ed25519 key is 32 octets, given as they are, not "+
				"in an ASN.1 structure (RFC 8463 section 4.2)", len(der))
			return
		}
		key.Bits = 256
	case "rsa":
		key.rsa(der, p, ps)
	}
}

// rsa checks an RSA public key, given as SubjectPublicKeyInfo or, as some
// signers publish it, as a PKCS#1 RSAPublicKey.
func (key *DKIMKey) rsa(der []byte, p tag, ps *problems) {
	var pub *rsa.PublicKey
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		r, ok := k.(*rsa.PublicKey)
		if !ok {
			ps.add(Error, p.at, p.end, "p= holds a public key that is not RSA; set k= to its type (%s)", dkimRFC)
			return
		}
		pub = r
	} else if r, err := x509.ParsePKCS1PublicKey(der); err == nil {
		pub = r
	} else {
		ps.add(Error, p.at, p.end, "p= does not hold an RSA public key (%d octets that are neither a "+
			"SubjectPublicKeyInfo nor an RSAPublicKey); a key cut short by a copy and paste? (%s)", len(der), dkimRFC)
		return
	}
	key.Bits = pub.N.BitLen()
	switch {
	case key.Bits < 1024:
		ps.add(Error, p.at, p.end, "the RSA key has %d bits; verifiers must not accept keys under 1024 bits "+
			"(RFC 8301 section 3.2): publish a 2048-bit key", key.Bits)
	case key.Bits < 2048:
		ps.add(Warning, p.at, p.end, "the RSA key has %d bits; signers should use at least 2048 (RFC 8301 section 3.2)",
			key.Bits)
	}
}

// dkimHashes checks h=.
func dkimHashes(text string, t tag, ps *problems) {
	sha256 := false
	for _, h := range splitList(t.value, ':') {
		sha256 = sha256 || strings.EqualFold(h, "sha256")
	}
	if !sha256 {
		ps.add(Warning, t.at, t.end, "%q: the key allows only SHA-1, which signers must not use (RFC 8301 section 3.1); "+
			"remove h= or write h=sha256", text[t.at:t.end])
	}
}

// dkimServices checks s=.
func dkimServices(text string, t tag, ps *problems) {
	for _, s := range splitList(t.value, ':') {
		if s == "*" || strings.EqualFold(s, "email") {
			return
		}
	}
	ps.add(Warning, t.at, t.end, "%q: the key is not for email (s= lists neither * nor email), so mail verifiers "+
		"ignore it (%s)", text[t.at:t.end], dkimRFC)
}
