package mxzone

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const (
	parentZone = `$ORIGIN parent.test.
$TTL 300
@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@ NS ns1
ns1 A 192.0.2.53
shop NS ns1
blog NS ns1
`
	shopZone = `$ORIGIN shop.parent.test.
$TTL 300
@ IN SOA ns1.parent.test. hostmaster 1 7200 3600 1209600 300
@ NS ns1.parent.test.
@ MX 0 .
`
)

// childDSAt returns the DS records the parent answers for child, with DO,
// and whether they come signed.
func childDSAt(t *testing.T, m *MXZone, child string) ([]*dns.DS, bool) {
	t.Helper()
	resp := queryDO(t, m, child, dns.TypeDS, true)
	var out []*dns.DS
	signed := false
	for _, rr := range resp.Answer {
		switch rr := rr.(type) {
		case *dns.DS:
			out = append(out, rr)
		case *dns.RRSIG:
			signed = signed || rr.TypeCovered == dns.TypeDS && rr.SignerName == "parent.test."
		}
	}
	return out, signed
}

// cdsOf returns the child's CDS as DS records.
func cdsOf(t *testing.T, m *MXZone, child string) []string {
	t.Helper()
	var out []string
	for _, rr := range queryDO(t, m, child, dns.TypeCDS, false).Answer {
		if c, ok := rr.(*dns.CDS); ok {
			out = append(out, strings.ToUpper(c.Digest))
		}
	}
	return out
}

// TestChildDS: a signed parent publishes, signed, the DS of a served signed
// child it delegates to, as the child's CDS says; a DS the parent's file
// writes wins; no_child_ds leaves a child out; a child gone takes its DS
// with it.
func TestChildDS(t *testing.T) {
	dir, state := writeZones(t, map[string]string{"parent.test.zone": parentZone, "shop.parent.test.zone": shopZone}), t.TempDir()
	m := newSignedPlugin(t, dir, state, false)
	if ds, _ := childDSAt(t, m, "shop.parent.test."); len(ds) != 0 {
		t.Logf("DS before the parent is signed again: %v", ds) // the first load signs both at once
	}
	m.refresh(time.Now())
	ds, signed := childDSAt(t, m, "shop.parent.test.")
	cds := cdsOf(t, m, "shop.parent.test.")
	if len(ds) != 1 || len(cds) != 1 || strings.ToUpper(ds[0].Digest) != cds[0] || !signed {
		t.Fatalf("the parent's DS for shop %v (signed %v), the child's CDS %v", ds, signed, cds)
	}
	if ds, _ := childDSAt(t, m, "blog.parent.test."); len(ds) != 0 {
		t.Errorf("DS for a child not served here: %v", ds)
	}

	t.Run("gone", func(t *testing.T) {
		m := newSignedPlugin(t, writeZones(t, map[string]string{"parent.test.zone": parentZone, "shop.parent.test.zone": shopZone}), t.TempDir(), false)
		m.refresh(time.Now())
		if ds, _ := childDSAt(t, m, "shop.parent.test."); len(ds) != 1 {
			t.Fatalf("DS %v", ds)
		}
		os.Remove(filepath.Join(m.loader.dir, "shop.parent.test.zone"))
		if err := m.reload(); err != nil {
			t.Fatal(err)
		}
		m.refresh(time.Now())
		if ds, _ := childDSAt(t, m, "shop.parent.test."); len(ds) != 0 {
			t.Errorf("DS of a child gone: %v", ds)
		}
	})
	t.Run("file wins", func(t *testing.T) {
		own := parentZone + "shop DS 12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE5A1D8D86B9F3C7B4E0A2E8C1\n"
		m := newSignedPlugin(t, writeZones(t, map[string]string{"parent.test.zone": own, "shop.parent.test.zone": shopZone}), t.TempDir(), false)
		m.refresh(time.Now())
		if ds, _ := childDSAt(t, m, "shop.parent.test."); len(ds) != 1 || ds[0].KeyTag != 12345 {
			t.Errorf("DS %v, want the file's", ds)
		}
	})
	t.Run("no_child_ds", func(t *testing.T) {
		m := newUnloaded(writeZones(t, map[string]string{"parent.test.zone": parentZone, "shop.parent.test.zone": shopZone}))
		state := t.TempDir()
		m.state = &stateDir{dir: state}
		m.signing = &signing{alg: dns.ECDSAP256SHA256, validity: defaultValidity, copies: filepath.Join(state, "signed"),
			ring: newKeyring(filepath.Join(state, "keys"), dns.ECDSAP256SHA256)}
		m.signing.ring.noChildDS = []string{"shop.parent.test."}
		m.wireChildDS()
		os.MkdirAll(m.signing.copies, 0o700)
		if err := m.reload(); err != nil {
			t.Fatal(err)
		}
		m.stateWrites.Wait()
		m.refresh(time.Now())
		if ds, _ := childDSAt(t, m, "shop.parent.test."); len(ds) != 0 {
			t.Errorf("DS of a child left out: %v", ds)
		}
	})
}
