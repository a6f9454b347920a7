// Package update applies RFC 2136 dynamic updates to a zone: the
// prerequisites (§3.2), the permission of the signing key (§3.3, as BIND's
// update-policy grants), the prescan (§3.4.1) and the changes (§3.4.2),
// all or nothing. It reads a zone through a small interface and returns
// the records to delete and to add; it knows nothing of servers, files or
// plugins.
//
// A zone's policy file holds the TSIG keys and grants for that zone only,
// in BIND's named.conf syntax, so that what `tsig-keygen NAME` prints pastes
// in unchanged:
//
//	key "acme.example.com." { algorithm hmac-sha256; secret "BASE64"; };
//	grant acme.example.com. subdomain _acme-challenge.example.com. TXT;
package update

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Key is one TSIG key of a policy file.
type Key struct {
	Name      string // lower case, fully qualified
	Algorithm string // canonical miekg/dns name, e.g. "hmac-sha256."
	Secret    string // base64, as in the file
	Line      int
}

// Kind is what part of the zone a grant covers (BIND's rule types).
type Kind int

// The grant kinds.
const (
	KindName      Kind = iota // the owner is the grant's name
	KindSubdomain             // the owner is the name or below it
	KindZonesub               // the owner is anywhere in the zone
	KindWildcard              // the owner matches the grant's wildcard name
	KindSelf                  // the owner is the key's name
	KindSelfsub               // the owner is the key's name or below it
	KindSelfwild              // the owner is exactly one label below the key's name
)

var kindNames = map[string]Kind{"name": KindName, "subdomain": KindSubdomain, "zonesub": KindZonesub,
	"wildcard": KindWildcard, "self": KindSelf, "selfsub": KindSelfsub, "selfwild": KindSelfwild}

// Grant is one grant or deny statement.
type Grant struct {
	Deny     bool
	Identity string // key name (lower case, fully qualified); a leading "*." matches keys below
	Kind     Kind
	Name     string   // for name, subdomain, wildcard
	Types    []uint16 // empty: ANY
	Line     int
}

// Policy is one zone's keys and grants.
type Policy struct {
	Zone   string
	File   string
	Keys   []Key
	Grants []Grant
}

// Error is a problem in a policy file, at its line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// algorithms are the TSIG algorithms a key may use (RFC 8945 §6: HMAC-MD5
// is not among them; SHA-1 is allowed for old clients).
var algorithms = map[string]string{
	"hmac-sha1": dns.HmacSHA1, "hmac-sha224": dns.HmacSHA224, "hmac-sha256": dns.HmacSHA256,
	"hmac-sha384": dns.HmacSHA384, "hmac-sha512": dns.HmacSHA512,
}

// Algorithm returns the canonical name of a TSIG algorithm given as BIND
// and nsupdate write it ("hmac-sha256" or "hmac-sha256.").
func Algorithm(name string) (string, bool) {
	a, ok := algorithms[strings.TrimSuffix(strings.ToLower(name), ".")]
	return a, ok
}

// AlgorithmName is the short name of a canonical algorithm ("hmac-sha256").
func AlgorithmName(canonical string) string {
	return strings.TrimSuffix(strings.ToLower(canonical), ".")
}

// ServerOwned reports whether t is a record type the server makes itself in
// a signed zone: no update may touch these (RFC 4035, RFC 7344).
func ServerOwned(t uint16) bool {
	switch t {
	case dns.TypeDNSKEY, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeNSEC3PARAM, dns.TypeCDS, dns.TypeCDNSKEY:
		return true
	}
	return false
}

// maxPolicyBytes bounds a policy file: a customer's keys and grants.
const maxPolicyBytes = 1 << 20

// ParsePolicy reads the policy file of zone (lower case, fully qualified).
// Every error names the file and line. Names are absolute, with or without
// the final dot, as in named.conf; BIND's `update-policy { ... };` wrapper
// is accepted around the grants.
func ParsePolicy(file, zone string, data []byte) (*Policy, error) {
	if len(data) > maxPolicyBytes {
		return nil, &Error{File: file, Line: 1, Msg: fmt.Sprintf("policy file is larger than %d bytes", maxPolicyBytes)}
	}
	toks, err := tokenize(file, data)
	if err != nil {
		return nil, err
	}
	p := &Policy{Zone: zone, File: file}
	r := &reader{file: file, toks: toks}
	depth := 0 // inside update-policy { }
	for !r.done() {
		t := r.next()
		switch {
		case t.text == "key" && !t.quoted:
			k, err := r.key()
			if err != nil {
				return nil, err
			}
			if i := slices.IndexFunc(p.Keys, func(o Key) bool { return o.Name == k.Name }); i >= 0 {
				return nil, r.errAt(k.Line, "key %q is defined twice (first at line %d)", k.Name, p.Keys[i].Line)
			}
			p.Keys = append(p.Keys, k)
		case (t.text == "grant" || t.text == "deny") && !t.quoted:
			g, err := r.grant(t, zone)
			if err != nil {
				return nil, err
			}
			p.Grants = append(p.Grants, g)
		case t.text == "update-policy" && !t.quoted:
			if err := r.expect("{"); err != nil {
				return nil, err
			}
			depth++
		case t.text == "}" && depth > 0:
			if err := r.expect(";"); err != nil {
				return nil, err
			}
			depth--
		default:
			return nil, r.errAt(t.line, "unexpected %q: a policy file holds key, grant and deny statements", cut(t.text))
		}
	}
	if depth > 0 {
		return nil, r.errAt(r.lastLine(), "update-policy block is not closed")
	}
	for _, g := range p.Grants {
		if g.Identity != "" && !strings.HasPrefix(g.Identity, "*.") && p.key(g.Identity) == nil {
			return nil, r.errAt(g.Line, "grant for key %q, which this file does not define", g.Identity)
		}
	}
	return p, nil
}

// key returns the key called name, or nil.
func (p *Policy) key(name string) *Key {
	for i := range p.Keys {
		if p.Keys[i].Name == name {
			return &p.Keys[i]
		}
	}
	return nil
}

// Key returns the key called name (any case), or nil.
func (p *Policy) Key(name string) *Key {
	if p == nil {
		return nil
	}
	return p.key(strings.ToLower(dns.Fqdn(name)))
}

// key reads `"NAME" { algorithm ALG; secret "BASE64"; };` after "key".
func (r *reader) key() (Key, error) {
	nameTok := r.next()
	if nameTok.text == "" || nameTok.text == "{" || nameTok.text == ";" {
		return Key{}, r.errAt(nameTok.line, "key needs a name")
	}
	name, err := absName(nameTok.text)
	if err != nil {
		return Key{}, r.errAt(nameTok.line, "key name %q: %v", cut(nameTok.text), err)
	}
	k := Key{Name: name, Line: nameTok.line}
	if err := r.expect("{"); err != nil {
		return Key{}, err
	}
	for {
		t := r.next()
		switch t.text {
		case "}":
			if err := r.expect(";"); err != nil {
				return Key{}, err
			}
			if k.Algorithm == "" {
				return Key{}, r.errAt(k.Line, "key %q has no algorithm", k.Name)
			}
			if k.Secret == "" {
				return Key{}, r.errAt(k.Line, "key %q has no secret", k.Name)
			}
			return k, nil
		case "algorithm":
			v := r.next()
			a, ok := Algorithm(v.text)
			if !ok {
				return Key{}, r.errAt(v.line, "key %q: algorithm %q is not one of hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224, hmac-sha1 (RFC 8945 section 6)", k.Name, cut(v.text))
			}
			k.Algorithm = a
		case "secret":
			v := r.next()
			raw, err := base64.StdEncoding.DecodeString(v.text)
			if err != nil || len(raw) == 0 {
				return Key{}, r.errAt(v.line, "key %q: secret is not base64", k.Name)
			}
			if len(raw) < 16 {
				// RFC 8945 §6: a key should be at least as long as the output of the hash.
				return Key{}, r.errAt(v.line, "key %q: secret has %d bytes; use at least 16 (tsig-keygen makes 32)", k.Name, len(raw))
			}
			k.Secret = v.text
		case "":
			return Key{}, r.errAt(t.line, "key %q is not closed with };", k.Name)
		default:
			return Key{}, r.errAt(t.line, "key %q: unknown option %q (algorithm and secret are the options)", k.Name, cut(t.text))
		}
		if err := r.expect(";"); err != nil {
			return Key{}, err
		}
	}
}

// grant reads the rest of `grant|deny IDENTITY KIND [NAME] [TYPE ...];`.
func (r *reader) grant(first token, zone string) (Grant, error) {
	g := Grant{Deny: first.text == "deny", Line: first.line}
	id := r.next()
	if id.text == "" || id.text == ";" {
		return g, r.errAt(first.line, "%s needs a key name, a rule type and its name", first.text)
	}
	ident, err := absName(id.text)
	if err != nil {
		return g, r.errAt(id.line, "key name %q: %v", cut(id.text), err)
	}
	g.Identity = ident
	kt := r.next()
	kind, ok := kindNames[strings.ToLower(kt.text)]
	if !ok {
		return g, r.errAt(kt.line, "rule type %q is not one of name, subdomain, zonesub, wildcard, self, selfsub, selfwild", cut(kt.text))
	}
	g.Kind = kind
	switch kind {
	case KindName, KindSubdomain, KindWildcard:
		nt := r.next()
		if nt.text == ";" || nt.text == "" {
			return g, r.errAt(nt.line, "%s needs a name", kt.text)
		}
		name, err := absName(nt.text)
		if err != nil {
			return g, r.errAt(nt.line, "name %q: %v", cut(nt.text), err)
		}
		if !dns.IsSubDomain(zone, name) {
			return g, r.errAt(nt.line, "name %s is outside the zone %s: a zone's grants cover that zone only", name, zone)
		}
		if kind == KindWildcard && !strings.HasPrefix(name, "*.") {
			return g, r.errAt(nt.line, "wildcard rule needs a name starting with *.")
		}
		g.Name = name
	case KindSelf, KindSelfsub, KindSelfwild:
		// BIND writes a name here that must equal the identity; take it if given.
		if nt := r.peek(); nt.text != ";" && nt.text != "" && !isType(nt.text) {
			r.next()
		}
	}
	for {
		t := r.next()
		if t.text == ";" {
			return g, nil
		}
		if t.text == "" {
			return g, r.errAt(first.line, "%s statement is not ended with ;", first.text)
		}
		if strings.EqualFold(t.text, "ANY") {
			continue // the same as no list
		}
		typ, ok := dns.StringToType[strings.ToUpper(t.text)]
		if !ok {
			return g, r.errAt(t.line, "unknown record type %q", cut(t.text))
		}
		if ServerOwned(typ) {
			return g, r.errAt(t.line, "%s records are made by the server's signer; no grant can hand them out", t.text)
		}
		if metaType(typ) {
			return g, r.errAt(t.line, "%s is not a record type a zone holds", t.text)
		}
		g.Types = append(g.Types, typ)
	}
}

func isType(s string) bool {
	_, ok := dns.StringToType[strings.ToUpper(s)]
	return ok || strings.EqualFold(s, "ANY")
}

// absName reads a named.conf name: absolute whether or not it ends in a dot.
func absName(s string) (string, error) {
	name := strings.ToLower(dns.Fqdn(s))
	if _, ok := dns.IsDomainName(name); !ok {
		return "", fmt.Errorf("not a domain name")
	}
	return name, nil
}

// Allows reports whether key may change the RRset of type t at owner (lower
// case) of the zone: the first grant or deny that matches decides; none
// matching refuses. A grant without types covers every type but SOA, NS and
// the server's DNSSEC records, as in BIND; those the server owns are never
// granted.
func (p *Policy) Allows(key, owner string, t uint16) bool {
	if p == nil || ServerOwned(t) || !dns.IsSubDomain(p.Zone, owner) {
		return false
	}
	key = strings.ToLower(key)
	for _, g := range p.Grants {
		if !g.identifies(key) || !g.covers(key, owner, p.Zone) {
			continue
		}
		if len(g.Types) == 0 {
			if t == dns.TypeSOA || t == dns.TypeNS {
				continue
			}
		} else if !slices.Contains(g.Types, t) {
			continue
		}
		return !g.Deny
	}
	return false
}

// Covers reports whether any grant for key reaches owner, whatever the type:
// a deletion at a name that holds nothing needs no more.
func (p *Policy) Covers(key, owner string) bool {
	if p == nil || !dns.IsSubDomain(p.Zone, owner) {
		return false
	}
	key = strings.ToLower(key)
	for _, g := range p.Grants {
		if g.identifies(key) && g.covers(key, owner, p.Zone) {
			return !g.Deny
		}
	}
	return false
}

// identifies reports whether the grant is for key.
func (g *Grant) identifies(key string) bool {
	if rest, ok := strings.CutPrefix(g.Identity, "*."); ok {
		return key != rest && dns.IsSubDomain(rest, key)
	}
	return g.Identity == key
}

// covers reports whether the grant's rule type and name reach owner.
func (g *Grant) covers(key, owner, zone string) bool {
	switch g.Kind {
	case KindName:
		return owner == g.Name
	case KindSubdomain:
		return dns.IsSubDomain(g.Name, owner)
	case KindZonesub:
		return dns.IsSubDomain(zone, owner)
	case KindWildcard:
		parent := g.Name[2:]
		return owner != parent && dns.IsSubDomain(parent, owner)
	case KindSelf:
		return owner == key
	case KindSelfsub:
		return dns.IsSubDomain(key, owner)
	case KindSelfwild:
		return owner != key && dns.IsSubDomain(key, owner) && dns.CountLabel(owner) == dns.CountLabel(key)+1
	}
	return false
}

// cut keeps what a message quotes of a file short.
func cut(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
