package mxzone

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"

	"github.com/miekg/dns"
)

// signedZones are the zones of the signing tests: a provider's mail hosts,
// and a customer whose MX names them, with a CNAME, a wildcard, an empty
// non-terminal, a DNAME and delegations with and without DS.
var signedZones = map[string]string{
	"provider.test.zone": "$TTL 3600\n@ SOA ns1 host 10 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n" +
		"mx1 A 192.0.2.25\nmx1 AAAA 2001:db8::25\n",
	"customer.test.zone": "$TTL 3600\n@ SOA ns1.provider.test. host 5 7200 3600 1209600 300\n@ NS ns1.provider.test.\n" +
		"@ MX 10 mx1.provider.test.\n@ TXT \"v=spf1 -all\"\nwww CNAME @\n*.wild A 192.0.2.80\na.b.c A 192.0.2.1\n" +
		"sub NS ns.sub\nns.sub A 192.0.2.99\nsecure NS ns.secure\nns.secure A 192.0.2.98\n" +
		"secure DS 12345 13 2 0000000000000000000000000000000000000000000000000000000000000000\nold DNAME new.example.\n",
}

// newSignedPlugin loads dir with a state directory and signing, the way
// setup and OnStartup make them.
func newSignedPlugin(t testing.TB, dir, state string, nsec3 bool) *MXZone {
	t.Helper()
	m := newUnloaded(dir)
	m.state = &stateDir{dir: state}
	m.signing = &signing{alg: dns.ECDSAP256SHA256, nsec3: nsec3, validity: defaultValidity,
		copies: filepath.Join(state, "signed"), ring: newKeyring(filepath.Join(state, "keys"), dns.ECDSAP256SHA256)}
	m.wireChildDS()
	for _, d := range []string{m.signing.ring.store.Dir, m.signing.copies} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.reload(); err != nil {
		t.Fatal(err)
	}
	m.stateWrites.Wait()
	return m
}

// queryDO runs one question with DO set (or not) through ServeDNS.
func queryDO(t *testing.T, m *MXZone, name string, qtype uint16, do bool) *dns.Msg {
	t.Helper()
	req := new(dns.Msg)
	req.SetQuestion(name, qtype)
	req.SetEdns0(4096, do)
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	if _, err := m.ServeDNS(context.Background(), rec, req); err != nil {
		t.Fatal(err)
	}
	return rec.Msg
}

// TestSignedAnswers: for every kind of answer (RFC 4035 section 3.1.3, RFC
// 5155 section 7.2), with NSEC and with NSEC3, the reply with DO carries a
// valid signature over every authoritative RRset and the denial records
// named here, which prove what they must; without DO it is the unsigned
// answer.
func TestSignedAnswers(t *testing.T) {
	type want struct {
		rcode int
		// The proof: for NSEC, names each NSEC must match or cover; for
		// NSEC3, names whose hash an NSEC3 matches ("=") or covers ("~").
		nsec, nsec3 []string
	}
	cases := []struct {
		name  string
		qtype uint16
		want  want
	}{
		{"customer.test.", dns.TypeMX, want{rcode: dns.RcodeSuccess}},
		{"www.customer.test.", dns.TypeA, want{dns.RcodeSuccess, []string{"customer.test."}, []string{"=customer.test."}}}, // CNAME to a NODATA
		{"x.wild.customer.test.", dns.TypeA, want{dns.RcodeSuccess, []string{"x.wild.customer.test."}, []string{"~x.wild.customer.test."}}},
		{"nope.customer.test.", dns.TypeA, want{dns.RcodeNameError, []string{"nope.customer.test.", "*.customer.test."},
			[]string{"=customer.test.", "~nope.customer.test.", "~*.customer.test."}}},
		{"x.y.b.c.customer.test.", dns.TypeA, want{dns.RcodeNameError, []string{"x.y.b.c.customer.test.", "*.b.c.customer.test."},
			[]string{"=b.c.customer.test.", "~y.b.c.customer.test.", "~*.b.c.customer.test."}}},
		{"customer.test.", dns.TypeAAAA, want{dns.RcodeSuccess, []string{"customer.test."}, []string{"=customer.test."}}},
		{"b.c.customer.test.", dns.TypeA, want{dns.RcodeSuccess, []string{"b.c.customer.test."}, []string{"=b.c.customer.test."}}},
		{"x.wild.customer.test.", dns.TypeTXT, want{dns.RcodeSuccess, []string{"x.wild.customer.test.", "*.wild.customer.test."},
			[]string{"=wild.customer.test.", "~x.wild.customer.test.", "=*.wild.customer.test."}}},
		{"sub.customer.test.", dns.TypeDS, want{dns.RcodeSuccess, []string{"sub.customer.test."}, []string{"=sub.customer.test."}}},
		{"host.sub.customer.test.", dns.TypeA, want{dns.RcodeSuccess, []string{"sub.customer.test."}, []string{"=sub.customer.test."}}},
		{"host.secure.customer.test.", dns.TypeA, want{rcode: dns.RcodeSuccess}}, // a referral with a signed DS
		{"secure.customer.test.", dns.TypeDS, want{rcode: dns.RcodeSuccess}},
		{"a.old.customer.test.", dns.TypeA, want{rcode: dns.RcodeSuccess}}, // a signed DNAME, an unsigned CNAME made from it
		{"customer.test.", dns.TypeDNSKEY, want{rcode: dns.RcodeSuccess}},
		{"customer.test.", dns.TypeANY, want{rcode: dns.RcodeSuccess}},
	}
	for _, nsec3 := range []bool{false, true} {
		name := map[bool]string{false: "nsec", true: "nsec3"}[nsec3]
		t.Run(name, func(t *testing.T) {
			m := newSignedPlugin(t, writeZones(t, signedZones), t.TempDir(), nsec3)
			keys := map[string]*dns.DNSKEY{}
			for _, origin := range []string{"customer.test.", "provider.test."} {
				keys[origin] = queryDO(t, m, origin, dns.TypeDNSKEY, false).Answer[0].(*dns.DNSKEY)
			}
			for _, c := range cases {
				label := c.name + " " + dns.TypeToString[c.qtype]
				resp := queryDO(t, m, c.name, c.qtype, true)
				if resp.Rcode != c.want.rcode {
					t.Errorf("%s: rcode %s, want %s", label, dns.RcodeToString[resp.Rcode], dns.RcodeToString[c.want.rcode])
				}
				checkSignatures(t, label, resp, keys)
				proof := c.want.nsec
				if nsec3 {
					proof = c.want.nsec3
				}
				checkProof(t, label, resp.Ns, proof, nsec3)
				plain := queryDO(t, m, c.name, c.qtype, false)
				if c.qtype != dns.TypeANY && c.qtype != dns.TypeDNSKEY {
					if n := countTypes(plain, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3); n != 0 {
						t.Errorf("%s without DO: %d DNSSEC records", label, n)
					}
				}
			}
		})
	}
}

// countTypes counts the records of the given types in every section.
func countTypes(m *dns.Msg, types ...uint16) int {
	n := 0
	for _, section := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range section {
			if slices.Contains(types, rr.Header().Rrtype) {
				n++
			}
		}
	}
	return n
}

// checkSignatures checks that every RRset of the answer and authority
// sections but delegation NS, and every address in the additional
// section, has a signature that verifies with its zone's key (the
// signer name), and that there is no signature without its RRset.
func checkSignatures(t testing.TB, label string, resp *dns.Msg, keys map[string]*dns.DNSKEY) {
	t.Helper()
	type setKey struct {
		name string
		t    uint16
	}
	for i, section := range [][]dns.RR{resp.Answer, resp.Ns, resp.Extra} {
		sets := map[setKey][]dns.RR{}
		var sigs []*dns.RRSIG
		for _, rr := range section {
			if sig, ok := rr.(*dns.RRSIG); ok {
				sigs = append(sigs, sig)
				continue
			}
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			k := setKey{strings.ToLower(rr.Header().Name), rr.Header().Rrtype}
			sets[k] = append(sets[k], rr)
		}
		signed := map[setKey]bool{}
		for _, sig := range sigs {
			k := setKey{strings.ToLower(sig.Hdr.Name), sig.TypeCovered}
			set := sets[k]
			key := keys[sig.SignerName]
			if len(set) == 0 || key == nil {
				t.Errorf("%s: section %d: a signature over nothing sent, or by an unknown signer: %v", label, i, sig)
				continue
			}
			if err := sig.Verify(key, set); err != nil {
				t.Errorf("%s: section %d: %v does not verify: %v", label, i, sig, err)
			}
			if sig.Hdr.Ttl != set[0].Header().Ttl {
				t.Errorf("%s: signature TTL %d, its RRset's %d", label, sig.Hdr.Ttl, set[0].Header().Ttl)
			}
			signed[k] = true
		}
		for k, set := range sets {
			glue := i == 2 && strings.HasSuffix(k.name, "sub.customer.test.") || i == 2 && strings.HasSuffix(k.name, "secure.customer.test.")
			unsigned := k.t == dns.TypeNS && i == 1 && k.name != "customer.test." && k.name != "provider.test." || glue ||
				k.t == dns.TypeCNAME && strings.Contains(k.name, ".old.") // made from the DNAME
			if !signed[k] && !unsigned {
				t.Errorf("%s: section %d: %s %s is not signed: %v", label, i, k.name, dns.TypeToString[k.t], set)
			}
		}
	}
}

// checkProof checks that the authority section holds the chain records
// that prove each of proof, and no others.
func checkProof(t *testing.T, label string, ns []dns.RR, proof []string, nsec3 bool) {
	t.Helper()
	var chain []dns.RR
	for _, rr := range ns {
		if rr.Header().Rrtype == dns.TypeNSEC || rr.Header().Rrtype == dns.TypeNSEC3 {
			chain = append(chain, rr)
		}
	}
	used := make([]bool, len(chain))
	for _, p := range proof {
		found := false
		for i, rr := range chain {
			if proves(rr, p, nsec3) {
				found, used[i] = true, true
			}
		}
		if !found {
			t.Errorf("%s: nothing proves %q in %v", label, p, chain)
		}
	}
	for i, rr := range chain {
		if !used[i] {
			t.Errorf("%s: a chain record that proves nothing asked: %v", label, rr)
		}
	}
}

// proves reports whether the NSEC or NSEC3 record rr proves p: for NSEC,
// that it matches or covers the name; for NSEC3 "=name" that it matches its
// hash, "~name" that it covers it.
func proves(rr dns.RR, p string, nsec3 bool) bool {
	if !nsec3 {
		n, ok := rr.(*dns.NSEC)
		if !ok {
			return false
		}
		owner, next := strings.ToLower(n.Hdr.Name), strings.ToLower(n.NextDomain)
		if zone.CompareCanonical(owner, p) == 0 {
			return true
		}
		if zone.CompareCanonical(owner, p) < 0 && (zone.CompareCanonical(p, next) < 0 || zone.CompareCanonical(next, owner) <= 0) {
			return true
		}
		return false
	}
	n, ok := rr.(*dns.NSEC3)
	if !ok {
		return false
	}
	if name, ok := strings.CutPrefix(p, "="); ok {
		return n.Match(name)
	}
	return n.Cover(strings.TrimPrefix(p, "~"))
}

// TestSignedRestartAndRefresh: a restart serves the signed copies as they
// were (the same serial, no new signature); signatures due for refresh are
// made again with a serial one higher and a later expiration, and a copy
// that is damaged is signed again instead of served.
func TestSignedRestartAndRefresh(t *testing.T) {
	dir, state := writeZones(t, signedZones), t.TempDir()
	m := newSignedPlugin(t, dir, state, false)
	first := m.gen.Load().zones["customer.test."].zone.signed
	// The copy in the state directory keeps the file's content: no record
	// the signer made, the file's serial.
	text, err := os.ReadFile(filepath.Join(state, "customer.test.zone"))
	if err != nil {
		t.Fatal(err)
	}
	for _, made := range []string{"RRSIG", "NSEC", "DNSKEY", "CDS"} {
		if strings.Contains(string(text), "\t"+made+"\t") {
			t.Errorf("the state copy holds %s records:\n%s", made, text)
		}
	}
	if !strings.Contains(string(text), "host.customer.test. 5 7200") {
		t.Errorf("the state copy does not have the file's serial 5:\n%s", text)
	}
	again := newSignedPlugin(t, dir, state, false)
	restarted := again.gen.Load().zones["customer.test."].zone.signed
	if restarted.Serial() != first.Serial() || restarted.expiration != first.expiration || restarted.Digest() != first.Digest() {
		t.Errorf("restart: serial %d expiration %d, want the copy's %d %d", restarted.Serial(), restarted.expiration,
			first.Serial(), first.expiration)
	}
	now := first.refreshAt()
	if p := again.gen.Load().zones["provider.test."].zone.signed.refreshAt(); p.After(now) {
		now = p
	}
	early, due := now.Add(-time.Hour), 0
	for _, e := range again.gen.Load().zones {
		if !early.Before(e.zone.signed.refreshAt()) {
			due++
		}
	}
	if n := again.refresh(early); n != due {
		t.Errorf("an hour before the later zone is due, %d zones were re-signed, want the %d due", n, due)
	}
	now = now.Add(time.Minute)
	again.refresh(now)
	for origin, e := range again.gen.Load().zones {
		if !now.Before(e.zone.signed.refreshAt()) {
			t.Errorf("%s is not refreshed", origin)
		}
	}
	fresh := again.gen.Load().zones["customer.test."].zone.signed
	if fresh.Serial() != first.Serial()+1 || !now.Before(fresh.refreshAt()) {
		t.Errorf("after refresh: serial %d (want %d), refresh at %v (after %v)", fresh.Serial(), first.Serial()+1, fresh.refreshAt(), now)
	}
	if n := again.refresh(now); n != 0 {
		t.Errorf("a second refresh at the same time re-signed %d zones", n)
	}
	// A damaged copy is not served: the zone is signed again.
	path := again.signing.path("customer.test.")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	third := newSignedPlugin(t, dir, state, false)
	if z := third.gen.Load().zones["customer.test."].zone.signed; z == nil || z.Digest() == fresh.Digest() {
		t.Errorf("a damaged signed copy was served, or the zone not signed")
	}
}

// TestSignedCopyDecode: what encode writes decodes to the same zone; any
// byte changed or cut off is refused, never a panic.
func TestSignedCopyDecode(t *testing.T) {
	m := newSignedPlugin(t, writeZones(t, signedZones), t.TempDir(), true)
	z := m.gen.Load().zones["customer.test."].zone.signed
	data := z.encode()
	back, err := decodeSigned(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.Digest() != z.Digest() || back.unsigned != z.unsigned || back.expiration != z.expiration || !back.nsec3 || back.chain.Empty() {
		t.Fatalf("decoded copy differs")
	}
	for i := 0; i < len(data); i += 7 {
		bad := slices.Clone(data)
		bad[i] ^= 0x5a
		if _, err := decodeSigned(bad); err == nil {
			t.Fatalf("byte %d changed: accepted", i)
		}
		if _, err := decodeSigned(data[:i]); err == nil {
			t.Fatalf("cut at %d: accepted", i)
		}
	}
}

// TestEditKeepsUnchangedSignatures: re-signing after an edit makes new
// signatures only for the RRsets that changed (and the SOA and the chain
// records next to the change); the others are the signatures served
// before, byte for byte.
func TestEditKeepsUnchangedSignatures(t *testing.T) {
	dir, state := writeZones(t, signedZones), t.TempDir()
	m := newSignedPlugin(t, dir, state, false)
	before := m.gen.Load().zones["customer.test."].zone.signed
	writeFile(t, dir, "customer.test.zone", signedZones["customer.test.zone"]+"zz A 192.0.2.9\n")
	if err := m.reload(); err != nil {
		t.Fatal(err)
	}
	after := m.gen.Load().zones["customer.test."].zone.signed
	if after == before || after.Serial() != before.Serial()+1 {
		t.Fatalf("the edit was not signed, or its serial %d is not %d", after.Serial(), before.Serial()+1)
	}
	// Served as serial 6, the copy in the state directory keeps the file's 5.
	if text, err := os.ReadFile(filepath.Join(state, "customer.test.zone")); err != nil ||
		!strings.Contains(string(text), "host.customer.test. 5 7200") || !strings.Contains(string(text), "zz.customer.test.") {
		t.Errorf("the state copy after the edit (%v):\n%s", err, text)
	}
	sigs := func(z *signedZone) map[string]bool {
		out := map[string]bool{}
		for set := range z.All {
			if set.Type() == dns.TypeRRSIG {
				for _, rr := range set.RRs() {
					out[rr.(*dns.RRSIG).Signature] = true
				}
			}
		}
		return out
	}
	old, now := sigs(before), sigs(after)
	kept := 0
	for s := range now {
		if old[s] {
			kept++
		}
	}
	// New: SOA, zz's A and NSEC, and the NSEC of the name before zz.
	if made := len(now) - kept; made != 4 {
		t.Errorf("%d signatures made for an edit of one name, want 4 (SOA, A, two NSEC); %d kept", made, kept)
	}
}

// TestNextServedSerial: the served serial follows the file's when it is
// newer, else goes one up from the last served (RFC 1982 arithmetic).
func TestNextServedSerial(t *testing.T) {
	for _, c := range []struct{ file, last, want uint32 }{
		{5, 0, 5}, {5, 4, 5}, {5, 5, 6}, {5, 9, 10}, {2026113001, 2026113001, 2026113002},
		{1, 0xffffffff, 1}, {0xffffffff, 0xffffffff, 0}, {3, 0x7fffffff, 0x80000000}, {3, 0x90000000, 3},
	} {
		if got := nextServedSerial(c.file, c.last); got != c.want {
			t.Errorf("nextServedSerial(%d, %d) = %d, want %d", c.file, c.last, got, c.want)
		}
	}
}

// TestParseDNSSECValues: the dnssec block's values, and the key store and
// signed copies under the state directory.
func TestParseDNSSECValues(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	c := caddy.NewTestController("dns", "mxzone "+dir+" {\n dnssec ED25519 {\n nsec3\n signature_validity 21d\n zones Example.ORG\n }\n state "+state+"\n}")
	m, err := parse(c)
	if err != nil {
		t.Fatal(err)
	}
	s := m.signing
	if s.alg != dns.ED25519 || !s.nsec3 || s.validity != 21*24*time.Hour || !slices.Equal(s.zones, []string{"example.org."}) {
		t.Errorf("signing %+v", s)
	}
	if s.ring.store.Dir != filepath.Join(state, "keys") || s.copies != filepath.Join(state, "signed") {
		t.Errorf("key store %s, copies %s", s.ring.store.Dir, s.copies)
	}
	if !s.covers("example.org.") || !s.covers("sub.example.org.") || s.covers("example.net.") {
		t.Errorf("zones example.org covers the wrong zones")
	}
	c = caddy.NewTestController("dns", "mxzone "+dir+" {\n dnssec {\n keys split\n ksk_lifetime 365d\n zsk_lifetime 30d\n propagation_delay 90s\n parent_ds_ttl 2h\n parent_servers 192.0.2.1\n no_child_ds Shop.Example.ORG\n }\n state "+state+"\n}")
	if m, err = parse(c); err != nil {
		t.Fatal(err)
	}
	r := m.signing.ring
	p := r.policy
	if !p.Split || p.KSKLifetime != 365*24*time.Hour || p.ZSKLifetime != 30*24*time.Hour || p.Propagation != 90*time.Second ||
		p.ParentPropagation != 90*time.Second || r.dsTTL != 2*time.Hour || !slices.Equal(r.parents, []string{"192.0.2.1:53"}) ||
		!slices.Equal(r.noChildDS, []string{"shop.example.org."}) || p.Algorithm != dns.ECDSAP256SHA256 {
		t.Errorf("rollover policy %+v, ring %+v", p, r)
	}
}
