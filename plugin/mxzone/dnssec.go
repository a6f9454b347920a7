package mxzone

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/coredns/coredns/plugin"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/rollover"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/sign"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"

	"github.com/miekg/dns"
)

// signing is the Corefile's dnssec property: which zones are signed and
// how, and where their keys and signed copies live (under the state
// directory, never in DIR).
type signing struct {
	alg      uint8
	nsec3    bool
	validity time.Duration
	zones    []string // nil: every served zone
	ring     *keyring // the keys and their rollovers
	lazyKeys bool     // first keys made unsynced: the first load syncs them at once
	copies   string   // the signed copies, one file per zone
	// served reports whether a zone is served signed now: its served
	// parent then publishes its DS (withChildDS).
	served func(origin string) bool
}

// defaultValidity is how long signatures are valid when the Corefile does
// not say.
const defaultValidity = 14 * 24 * time.Hour

// covers reports whether origin is to be signed.
func (s *signing) covers(origin string) bool {
	return len(s.zones) == 0 || plugin.Zones(s.zones).Matches(origin) != ""
}

// signedZone is a version as served with DNSSEC: the version's records
// with the served serial, the keys, the chain and the signatures, packed
// like any zone. It is made once and never changes; re-signing makes
// another.
type signedZone struct {
	*zone.Zone
	chain                 zone.Chain
	unsigned              [32]byte // digest of the version it signs
	unsignedSerial        uint32   // and its serial, as in the file
	inception, expiration uint32
	nsec3                 bool
	alg                   uint8
	// keyAt is when a step of the zone's key rollover is next due (zero:
	// none): the zone is signed again then.
	keyAt time.Time
	// childDS lists the children whose DS the signer added (withChildDS),
	// not the file.
	childDS []string
}

// served is the zone the version answers from: the signed one, for a
// signed version (withSignature).
func (v *version) served() *zone.Zone { return &v.Zone }

// unsignedDigest identifies the content v was validated with: its own for
// a version as read, the one it was signed from for a signed version.
func (v *version) unsignedDigest() [32]byte {
	if v.signed != nil {
		return v.signed.unsigned
	}
	return v.Digest()
}

// refreshAt is when the signatures are made again: when a third of their
// validity is left.
func (z *signedZone) refreshAt() time.Time { return refreshTime(z.inception, z.expiration) }

// due reports whether z is to be signed again at now: its signatures are
// due for refresh, or a step of its key rollover is.
func (z *signedZone) due(now time.Time) bool {
	return !now.Before(z.refreshAt()) || z.keyDue(now)
}

// keyDue reports whether a step of z's key rollover is due at now.
func (z *signedZone) keyDue(now time.Time) bool { return !z.keyAt.IsZero() && !now.Before(z.keyAt) }

// signs reports whether z signs the content of v with the settings of s,
// and is not yet due at now.
func (z *signedZone) signs(v *version, s *signing, now time.Time) bool {
	return z != nil && z.nsec3 == s.nsec3 && z.alg == s.alg && !z.due(now) && z.unsigned == v.unsignedDigest()
}

// nextServedSerial is the serial of a newly signed version: the file's
// when it is newer than the last one served, else that plus one, so that
// secondaries always see the change (RFC 1982 arithmetic).
func nextServedSerial(file, last uint32) uint32 {
	if last == 0 || serialNewer(file, last) {
		return file
	}
	return last + 1
}

// sign signs v; last is the serial served before (0: none known). The
// signatures expire at a time spread over the last sixth of the validity,
// so that zones signed together are refreshed apart. The signatures of
// prev (nil: none) over RRsets that did not change are kept while they
// are not due for refresh: an edit costs the RRsets it changed.
func (s *signing) sign(v *version, last uint32, now time.Time, prev *signedZone) (*signedZone, error) {
	origin := v.Origin()
	rrs := make([]dns.RR, 0, v.Len())
	for set := range v.All {
		if !madeBySigner(origin, set.Owner(), set.Type()) {
			rrs = set.AppendTo(rrs, set.Owner())
		}
	}
	var soaTTL uint32
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok && soa.Hdr.Name == origin {
			soa.Serial = nextServedSerial(soa.Serial, last)
			soaTTL = soa.Hdr.Ttl
		}
	}
	rrs = slices.DeleteFunc(rrs, func(rr dns.RR) bool {
		prev := v.signed
		return prev != nil && rr.Header().Rrtype == dns.TypeDS && slices.Contains(prev.childDS, rr.Header().Name)
	})
	rrs, childDS := s.withChildDS(origin, rrs)
	keys, keyAt, err := s.ring.keysAt(origin, s.timing(origin, rrs, soaTTL), now, s.lazyKeys)
	if err != nil {
		return nil, err
	}
	spread := time.Duration(rand.Int64N(int64(s.validity/6) + 1))
	inception := now.Add(-time.Hour) // clocks of validators run a little behind
	expiration := now.Add(s.validity - spread)
	opt := sign.Options{NSEC3: s.nsec3, Inception: uint32(inception.Unix()), Expiration: uint32(expiration.Unix())}
	if prev != nil && prev.nsec3 == s.nsec3 {
		opt.Reuse = reuseFrom(prev.Zone, now)
	}
	out, err := sign.Zone(origin, rrs, keys, opt)
	if err != nil {
		return nil, err
	}
	// The zone is due when its first signature is: the one whose refresh
	// time comes first.
	first := &dns.RRSIG{Inception: opt.Inception, Expiration: opt.Expiration}
	for _, rr := range out {
		if sig, ok := rr.(*dns.RRSIG); ok && refreshTime(sig.Inception, sig.Expiration).Before(refreshTime(first.Inception, first.Expiration)) {
			first = sig
		}
	}
	zone.Sort(out)
	z, err := zone.Build(origin, out, 0)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", origin, err)
	}
	unsignedSerial := v.Serial()
	if v.signed != nil {
		unsignedSerial = v.signed.unsignedSerial
	}
	return &signedZone{Zone: z, chain: zone.NewChain(z), unsigned: v.unsignedDigest(), unsignedSerial: unsignedSerial,
		inception: first.Inception, expiration: first.Expiration, nsec3: s.nsec3, alg: s.alg,
		keyAt: keyAt, childDS: childDS}, nil
}

// timing is what the waits of origin's rollover depend on, from its
// records as they are to be signed: the DNSKEY TTL (the SOA's), the
// largest TTL (the negative TTL of RFC 9077 among them), and the TTL of
// its DS at the parent (the served parent's, else the policy's).
func (s *signing) timing(origin string, rrs []dns.RR, soaTTL uint32) rollover.Timing {
	maxTTL := soaTTL
	for _, rr := range rrs {
		maxTTL = max(maxTTL, rr.Header().Ttl)
	}
	t := rollover.Timing{KeyTTL: time.Duration(soaTTL) * time.Second, MaxTTL: time.Duration(maxTTL) * time.Second, DSTTL: s.ring.dsTTL}
	if s.ring.parentDS != nil {
		if have, ttl, served := s.ring.parentDS(origin); served {
			t.DSTTL = time.Duration(ttl) * time.Second
			if len(have) > 0 {
				t.DSTTL = time.Duration(have[0].Header().Ttl) * time.Second
			}
		}
	}
	return t
}

// reuseFrom gives sign.Options.Reuse the signatures of the signed zone
// prev over an RRset that is exactly as it was, if none of them is due for
// refresh at now.
func reuseFrom(prev *zone.Zone, now time.Time) func(owner string, t uint16, set []dns.RR) []*dns.RRSIG {
	return func(owner string, t uint16, set []dns.RR) []*dns.RRSIG {
		n, ok := prev.Node(owner)
		if !ok || !n.SameSet(t, set) {
			return nil
		}
		var out []*dns.RRSIG
		sigs, _ := n.AppendSigs(nil, owner, t, 0)
		for _, rr := range sigs {
			sig := rr.(*dns.RRSIG)
			if !now.Before(refreshTime(sig.Inception, sig.Expiration)) || now.Before(time.Unix(int64(sig.Inception), 0)) {
				return nil
			}
			out = append(out, sig)
		}
		return out
	}
}

// refreshTime is when a signature valid from inception to expiration is
// made again: when a third of its validity is left.
func refreshTime(inception, expiration uint32) time.Time {
	left := (int64(expiration) - int64(inception)) / 3
	return time.Unix(int64(expiration)-left, 0)
}

// withSignature returns a new version: v served as z. Its index is the
// signed one, which holds every record of v too: the cross-zone checks read
// it like any other, and v's own index is left to the collector, so that a
// signed zone is kept once and answered without one more indirection.
func withSignature(v *version, z *signedZone) *version {
	nv := *v
	nv.Zone, nv.signed = *z.Zone, z
	return &nv
}

// madeBySigner reports whether a record of type t at owner of a signed
// version was made by the signer, not read from the zone file: left out of
// the copy of the version in the state directory, which keeps the file's
// content.
func madeBySigner(origin, owner string, t uint16) bool {
	switch t {
	case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeNSEC3PARAM:
		return true
	case dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY:
		return owner == origin
	}
	return false
}

// copyMagic starts a signed copy; the digit is the format's version. A
// copy of version 3 (no rollover) is read too.
const (
	copyMagic   = "MXSIGNED4\n"
	copyMagicV3 = "MXSIGNED3\n"
)

// copySum is the checksum at the end of a signed copy: CRC-32C, computed
// by the CPU, against a copy damaged on disk or cut short (the state
// directory is the server's alone: it is no defence against its owner).
var copySum = crc32.MakeTable(crc32.Castagnoli)

// path is the file of origin's signed copy.
func (s *signing) path(origin string) string { return filepath.Join(s.copies, origin+"signed") }

// encode writes z as a signed copy: a header saying what it signs and
// until when, the packed zone, and a CRC-32C of all that.
func (z *signedZone) encode() []byte {
	b := append([]byte(copyMagic), z.unsigned[:]...)
	b = binary.BigEndian.AppendUint32(b, z.unsignedSerial)
	b = binary.BigEndian.AppendUint32(b, z.inception)
	b = binary.BigEndian.AppendUint32(b, z.expiration)
	flags := byte(0)
	if z.nsec3 {
		flags = 1
	}
	b = append(b, flags, z.alg)
	keyAt := int64(0)
	if !z.keyAt.IsZero() {
		keyAt = z.keyAt.Unix()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(keyAt))
	b = binary.BigEndian.AppendUint16(b, uint16(len(z.childDS)))
	for _, c := range z.childDS {
		b = append(b, byte(len(c)))
		b = append(b, c...)
	}
	b = z.AppendBinary(b)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, copySum))
}

// errBadCopy is a signed copy that is damaged or of another format.
var errBadCopy = errors.New("signed copy damaged or of another version")

// decodeSigned reads what encode wrote.
func decodeSigned(b []byte) (*signedZone, error) {
	if len(b) < len(copyMagic)+32+14+4 || string(b[:len(copyMagic)]) != copyMagic && string(b[:len(copyMagic)]) != copyMagicV3 {
		return nil, errBadCopy
	}
	v3 := string(b[:len(copyMagic)]) == copyMagicV3
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, copySum) != sum {
		return nil, errBadCopy
	}
	h := body[len(copyMagic):]
	z := &signedZone{}
	copy(z.unsigned[:], h)
	h = h[32:]
	z.unsignedSerial, h = binary.BigEndian.Uint32(h), h[4:]
	z.inception, z.expiration = binary.BigEndian.Uint32(h), binary.BigEndian.Uint32(h[4:])
	z.nsec3, z.alg = h[8] == 1, h[9]
	h = h[10:]
	if !v3 {
		var ok bool
		if h, ok = z.decodeRollover(h); !ok {
			return nil, errBadCopy
		}
	}
	zz, err := zone.ParseBinary(h)
	if err != nil {
		return nil, err
	}
	z.Zone, z.chain = zz, zone.NewChain(zz)
	return z, nil
}

// decodeRollover reads the rollover fields of a copy: keyAt and childDS.
func (z *signedZone) decodeRollover(h []byte) ([]byte, bool) {
	if len(h) < 10 {
		return nil, false
	}
	if at := int64(binary.BigEndian.Uint64(h)); at != 0 {
		z.keyAt = time.Unix(at, 0)
	}
	n := int(binary.BigEndian.Uint16(h[8:]))
	h = h[10:]
	for range n {
		if len(h) < 1 || len(h) < 1+int(h[0]) {
			return nil, false
		}
		z.childDS = append(z.childDS, string(h[1:1+int(h[0])]))
		h = h[1+int(h[0]):]
	}
	return h, true
}

// loadCopy reads origin's signed copy; nil if there is none or it cannot
// be used.
func (s *signing) loadCopy(origin string) *signedZone {
	data, err := os.ReadFile(s.path(origin))
	if err != nil {
		return nil
	}
	z, err := decodeSigned(data)
	if err != nil || z.Origin() != origin {
		log.Warningf("state: %s: %v; the zone is signed again", s.path(origin), errBadCopy)
		return nil
	}
	return z
}

// saveCopy writes z as origin's signed copy, through the state directory's
// atomic write.
func (s *signing) saveCopy(st *stateDir, z *signedZone, sync bool) error {
	if err := st.write(s.path(z.Origin()), z.encode(), sync); err != nil {
		return fmt.Errorf("save signed copy of %s: %w", z.Origin(), err)
	}
	return nil
}

// removeCopy deletes origin's signed copy: its zone is gone. Its keys
// stay: the zone added again signs with the key its DS names.
func (s *signing) removeCopy(origin string) {
	if err := os.Remove(s.path(origin)); err != nil && !os.IsNotExist(err) {
		log.Errorf("state: %v", err)
	}
}

// status is what the status API says of z; nil when the zone is unsigned.
func (z *signedZone) status() *zoneDNSSEC {
	if z == nil {
		return nil
	}
	st := &zoneDNSSEC{Denial: "nsec", Expires: time.Unix(int64(z.expiration), 0).UTC(), RefreshAt: z.refreshAt().UTC(), DS: []string{}}
	if z.nsec3 {
		st.Denial = "nsec3"
	}
	if set, ok := z.Apex().Set(dns.TypeDNSKEY); ok {
		for _, rr := range set.RRs() {
			if k := rr.(*dns.DNSKEY); k.Flags&dns.SEP != 0 {
				st.DS = append(st.DS, k.ToDS(dns.SHA256).String())
			}
		}
	}
	return st
}
