// Package sign signs a zone as a whole (RFC 4033, RFC 4034, RFC 4035): the
// keys (a combined signing key per zone, kept by the caller), the DNSKEY,
// CDS and CDNSKEY records at the apex (RFC 7344), an NSEC or NSEC3 chain
// (RFC 5155 with the parameters of RFC 9276) and an RRSIG over every
// authoritative RRset. It uses miekg/dns for the cryptography and wire
// forms, and knows nothing of files, generations or the plugin.
package sign

import (
	"bufio"
	"crypto"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Key is one signing key of a zone: its DNSKEY record and private key.
type Key struct {
	DNSKEY  *dns.DNSKEY
	private crypto.Signer
	tag     uint16 // DNSKEY.KeyTag(), computed once: every RRset signed or kept asks for it
}

// Tag is the key's tag (RFC 4034 appendix B).
func (k *Key) Tag() uint16 {
	if k.tag == 0 {
		return k.DNSKEY.KeyTag()
	}
	return k.tag
}

// Use is what a key does at one moment of its life (RFC 7583 section 2):
// whether its DNSKEY is published, whether it signs the apex key sets
// (DNSKEY, CDS, CDNSKEY), whether it signs the rest of the zone, and
// whether its CDS and CDNSKEY are published for the parent (RFC 7344).
type Use struct {
	Publish, SignKeys, SignZone, Submit bool
}

// Combined is the use of a combined signing key in service: everything.
var Combined = Use{Publish: true, SignKeys: true, SignZone: true, Submit: true}

// KeyUse is a key with its use.
type KeyUse struct {
	*Key
	Use
}

// Combine gives every key the use of a combined signing key.
func Combine(keys []*Key) []KeyUse {
	out := make([]KeyUse, len(keys))
	for i, k := range keys {
		out[i] = KeyUse{Key: k, Use: Combined}
	}
	return out
}

// NewKey makes a combined signing key (flags 257: zone key and secure entry
// point) for origin with algorithm alg: dns.ECDSAP256SHA256 or dns.ED25519.
func NewKey(origin string, alg uint8) (*Key, error) {
	return NewKeyFlags(origin, alg, dns.ZONE|dns.SEP)
}

// NewKeyFlags makes a key with the given DNSKEY flags: 257 for a key- or
// combined signing key, 256 for a zone signing key.
func NewKeyFlags(origin string, alg uint8, flags uint16) (*Key, error) {
	bits := map[uint8]int{dns.ECDSAP256SHA256: 256, dns.ED25519: 256}[alg]
	if bits == 0 {
		return nil, fmt.Errorf("sign: algorithm %s is not supported; use ECDSAP256SHA256 or ED25519", dns.AlgorithmToString[alg])
	}
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: origin, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: flags, Protocol: 3, Algorithm: alg}
	priv, err := k.Generate(bits)
	// A key whose tag is 0 is valid, but miekg/dns refuses to sign with it
	// (about one key in 65,536): make another.
	for err == nil && k.KeyTag() == 0 {
		priv, err = k.Generate(bits)
	}
	if err != nil {
		return nil, fmt.Errorf("sign: new key for %s: %w", origin, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, errors.New("sign: generated key cannot sign")
	}
	return &Key{DNSKEY: k, private: signer, tag: k.KeyTag()}, nil
}

// ID names the key among the keys of its zone: its tag and algorithm, as
// in the name of its file in the Store.
func (k *Key) ID() string {
	return fmt.Sprintf("%05d-%s", k.DNSKEY.KeyTag(), strings.ToLower(dns.AlgorithmToString[k.DNSKEY.Algorithm]))
}

// Marshal writes the key as its DNSKEY record on the first line and the
// private key in the BIND private-key format after it. The caller keeps it
// where only the server can read it.
func (k *Key) Marshal() []byte {
	return []byte(k.DNSKEY.String() + "\n" + k.DNSKEY.PrivateKeyString(k.private))
}

// ParseKey reads what Marshal wrote.
func ParseKey(data []byte, file string) (*Key, error) {
	first, rest, ok := strings.Cut(string(data), "\n")
	if !ok {
		return nil, fmt.Errorf("sign: %s: no private key after the DNSKEY record", file)
	}
	rr, err := dns.NewRR(first)
	if err != nil {
		return nil, fmt.Errorf("sign: %s: %w", file, err)
	}
	dk, ok := rr.(*dns.DNSKEY)
	if !ok {
		return nil, fmt.Errorf("sign: %s: the first line is not a DNSKEY record", file)
	}
	priv, err := dk.ReadPrivateKey(bufio.NewReader(strings.NewReader(rest)), file)
	if err != nil {
		return nil, fmt.Errorf("sign: %s: %w", file, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("sign: %s: the private key cannot sign", file)
	}
	return &Key{DNSKEY: dk, private: signer, tag: dk.KeyTag()}, nil
}
