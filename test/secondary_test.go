package test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns-mx/coredns-mx/internal/zonegen"

	"github.com/miekg/dns"
)

const catalogZone = "catalog.invalid."

// startPrimary runs coredns-mx on dir as the primary of secondaries at
// secondaryAddrs (host:port): transfers allowed to and NOTIFY sent to them,
// with the catalog zone catalogZone.
func startPrimary(t *testing.T, dir string, secondaryAddrs ...string) *server {
	t.Helper()
	return startServer(t, dir, "        reload 1h\n        catalog "+catalogZone,
		"transfer {\n        to "+strings.Join(secondaryAddrs, " ")+"\n    }")
}

// xfrKey is the TSIG key of TestKnotSecondaryTSIG (hmac-sha256).
const xfrKeyName, xfrKeySecret = "xfr.key.", "NoTCJU+DMqFWywaPyxSijrDEA/eC3nK0xi3AMEZuPVk="

// knotKey is the part of a Knot configuration that makes it sign its
// requests to the primary with xfrKey.
const knotKey = "key:\n  - id: " + xfrKeyName + "\n    algorithm: hmac-sha256\n    secret: " + xfrKeySecret + "\n"

// startKnotSecondary runs knotd on port as a secondary of primary that
// knows nothing but the catalog zone (catalog-role: interpret) and creates
// a zone for each member, transferred from primary as well. With tsig, it
// signs its requests to the primary with xfrKey.
func startKnotSecondary(t *testing.T, port int, primary string, tsig ...bool) string {
	t.Helper()
	knotd := requireTool(t, "knotd")
	run := t.TempDir()
	host, pport, _ := strings.Cut(primary, ":")
	key, remoteKey := "", ""
	if len(tsig) > 0 && tsig[0] {
		key, remoteKey = knotKey, "\n    key: "+xfrKeyName
	}
	conf := fmt.Sprintf(`%[6]sserver:
    listen: 127.0.0.1@%[1]d
    rundir: %[2]s
log:
  - target: stderr
    any: info
database:
    storage: %[2]s
remote:
  - id: primary
    address: %[3]s@%[4]s%[7]s
acl:
  - id: notify_from_primary
    address: %[3]s
    action: notify
template:
  - id: default
    storage: %[2]s
    zonefile-sync: -1
    zonefile-load: none
    journal-content: none
  - id: member
    master: primary
    acl: notify_from_primary
    storage: %[2]s
    zonefile-sync: -1
    zonefile-load: none
    journal-content: none
zone:
  - domain: %[5]s
    master: primary
    acl: notify_from_primary
    catalog-role: interpret
    catalog-template: member
`, port, run, host, pport, catalogZone, key, remoteKey)
	path := filepath.Join(run, "knot.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	startProcess(t, "knotd", knotd, "-c", path)
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// soaSerial asks addr for the SOA of zone: its serial, or -1 with the rcode
// if there is none.
func soaSerial(addr, zone string) (int64, int) {
	req := new(dns.Msg)
	req.SetQuestion(zone, dns.TypeSOA)
	c := &dns.Client{Timeout: time.Second}
	resp, _, err := c.Exchange(req, addr)
	if err != nil {
		return -1, -1
	}
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
		return -1, resp.Rcode
	}
	return int64(resp.Answer[0].(*dns.SOA).Serial), resp.Rcode
}

// hasSerial waits until addr serves each zone with at least serial.
func hasSerial(t *testing.T, addr string, zones []string, serial int64, limit time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	left := append([]string(nil), zones...)
	waitFor(t, limit, what, func() bool {
		for len(left) > 0 {
			if s, _ := soaSerial(addr, left[0]); s < serial {
				return false
			}
			left = left[1:]
		}
		return true
	})
	return time.Since(start)
}

// bumpSerial rewrites a zone file with its serial increased by one, and
// edit applied to the rest; it returns the new serial.
func bumpSerial(t *testing.T, path string, edit func(string) string) int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zp := dns.NewZoneParser(bytes.NewReader(data), dns.Fqdn(strings.TrimSuffix(filepath.Base(path), ".zone")), path)
	var serial uint32
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if soa, ok := rr.(*dns.SOA); ok {
			serial = soa.Serial
		}
	}
	// The serial is the first word that is the number after "SOA".
	text := string(data)
	at := strings.Index(text, "SOA")
	loc := regexp.MustCompile(`[\s(]` + fmt.Sprint(serial) + `[\s)]`).FindStringIndex(text[at:])
	if at < 0 || loc == nil {
		t.Fatalf("%s: no SOA serial %d found", path, serial)
	}
	text = text[:at+loc[0]+1] + fmt.Sprint(serial+1) + text[at+loc[1]-1:]
	if edit != nil {
		text = edit(text)
	}
	writeAtomic(t, path, text)
	return int64(serial) + 1
}

// TestKnotSecondary runs Knot DNS as a secondary of coredns-mx configured
// with nothing but the catalog zone, and checks that it provisions and
// serves every zone with the answers of coredns-mx, then follows an MX
// change, a new zone and a deleted zone by NOTIFY (the zones' refresh is 2
// hours: seconds mean NOTIFY), and never gets a broken edit.
func TestKnotSecondary(t *testing.T) {
	dir := copyDir(t, "../zones")
	origins, names := zoneNames(t, dir)
	knotPort := freePort(t)
	knotAddr := fmt.Sprintf("127.0.0.1:%d", knotPort)
	mx := startPrimary(t, dir, knotAddr)
	knot := startKnotSecondary(t, knotPort, mx.addr)
	took := hasSerial(t, knot, origins, 0, 30*time.Second, "Knot to provision every zone from the catalog")
	t.Logf("Knot provisioned %d zones from the catalog in %v", len(origins), took.Round(time.Millisecond))

	t.Run("same answers", func(t *testing.T) {
		if n := compareAnswers(t, knot, mx.addr, origins, names); n < 100 {
			t.Fatalf("only %d comparisons", n)
		}
	})

	t.Run("an MX change follows by NOTIFY", func(t *testing.T) {
		series := `coredns_mxzone_notifies_total{result="sent",server="dns://` + mx.addr + `"}`
		sent := max(mx.metric(t, series), 0)
		start := time.Now()
		serial := bumpSerial(t, filepath.Join(dir, "example.org.zone"), func(s string) string {
			return strings.Replace(s, "MX   20 mx2.example.net.", "MX   30 mx2.example.net.", 1)
		})
		onPrimary := hasSerial(t, mx.addr, []string{"example.org."}, serial, 10*time.Second, "the primary to take the MX change")
		hasSerial(t, knot, []string{"example.org."}, serial, 10*time.Second, "the secondary to take the MX change")
		t.Logf("edit to visible: on the primary after %v, on the secondary after %v",
			onPrimary.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		resp := ask(t, knot, "udp", "example.org.", dns.TypeMX)
		if !strings.Contains(fmt.Sprint(resp.Answer), "MX\t30 mx2.example.net.") {
			t.Fatalf("secondary MX: %v", resp.Answer)
		}
		waitFor(t, 5*time.Second, "the NOTIFY to be counted", func() bool { return mx.metric(t, series) >= sent+1 })
		if got := mx.metric(t, series); got != sent+1 {
			t.Fatalf("NOTIFYs sent for one edit: %v, want 1 (for the edited zone only)", got-sent)
		}
	})

	t.Run("a new zone is provisioned through the catalog", func(t *testing.T) {
		writeAtomic(t, filepath.Join(dir, "new.example.zone"),
			"$TTL 3600\n@ SOA ns1.example.net. hostmaster 1 7200 3600 1209600 300\n@ NS ns1.example.net.\n@ MX 10 mx1.example.net.\n")
		took := hasSerial(t, knot, []string{"new.example."}, 1, 10*time.Second, "the secondary to serve the new zone")
		t.Logf("new zone served by the secondary after %v", took.Round(time.Millisecond))
	})

	t.Run("a deleted zone is dropped through the catalog", func(t *testing.T) {
		if err := os.Remove(filepath.Join(dir, "parked.example.zone")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the secondary to drop parked.example.", func() bool {
			_, rcode := soaSerial(knot, "parked.example.")
			return rcode == dns.RcodeRefused
		})
	})

	t.Run("a broken edit never reaches the secondary", func(t *testing.T) {
		good, _ := soaSerial(mx.addr, "example.com.")
		bumpSerial(t, filepath.Join(dir, "example.com.zone"), func(s string) string {
			return strings.Replace(s, "MX   20 backup.example.net.", "MX   20 192.0.2.1.", 1)
		})
		// A valid edit after it: once the secondary has that one, it has
		// had every NOTIFY the primary sent before.
		serial := bumpSerial(t, filepath.Join(dir, "example.net.zone"), nil)
		hasSerial(t, knot, []string{"example.net."}, serial, 10*time.Second, "the secondary to take the later edit")
		if s, _ := soaSerial(knot, "example.com."); s != good {
			t.Fatalf("secondary serves example.com. serial %d, want the last good %d", s, good)
		}
		// Asked directly, the primary transfers the last good version.
		tr := &dns.Transfer{}
		req := new(dns.Msg)
		req.SetAxfr("example.com.")
		env, err := tr.In(req, mx.addr)
		if err != nil {
			t.Fatal(err)
		}
		var soas []uint32
		for e := range env {
			if e.Error != nil {
				t.Fatal(e.Error)
			}
			for _, rr := range e.RR {
				if soa, ok := rr.(*dns.SOA); ok {
					soas = append(soas, soa.Serial)
				}
			}
		}
		if len(soas) != 2 || int64(soas[0]) != good {
			t.Fatalf("AXFR of the refused zone carried SOA serials %v, want twice %d", soas, good)
		}
	})
}

// TestKnotSecondaryTSIG: with the stock tsig plugin requiring signed
// transfers, Knot provisions every zone with signed requests, and an
// unsigned transfer is refused.
func TestKnotSecondaryTSIG(t *testing.T) {
	dir := copyDir(t, "../zones")
	origins, _ := zoneNames(t, dir)
	knotPort := freePort(t)
	mx := startServer(t, dir, "        reload 1h\n        catalog "+catalogZone,
		"tsig {\n        secret "+xfrKeyName+" "+xfrKeySecret+"\n        require AXFR IXFR\n    }",
		fmt.Sprintf("transfer {\n        to 127.0.0.1:%d\n    }", knotPort))
	knot := startKnotSecondary(t, knotPort, mx.addr, true)
	hasSerial(t, knot, origins, 0, 30*time.Second, "Knot to provision every zone over TSIG")

	axfr := func(signed bool) (int, error) {
		tr := &dns.Transfer{}
		req := new(dns.Msg)
		req.SetAxfr("example.com.")
		if signed {
			tr.TsigSecret = map[string]string{xfrKeyName: xfrKeySecret}
			req.SetTsig(xfrKeyName, dns.HmacSHA256, 300, time.Now().Unix())
		}
		env, err := tr.In(req, mx.addr)
		if err != nil {
			return 0, err
		}
		n := 0
		for e := range env {
			if e.Error != nil {
				return n, e.Error
			}
			n += len(e.RR)
		}
		return n, nil
	}
	if n, err := axfr(true); err != nil || n < 3 {
		t.Fatalf("signed AXFR: %d records, %v", n, err)
	}
	if n, err := axfr(false); err == nil {
		t.Fatalf("unsigned AXFR answered with %d records, want it refused", n)
	}
}

// TestKnotSecondaryThousandZones measures, with 1,000 zones, how long Knot
// takes to provision them from the catalog, to follow one edit, and to
// follow an edit of every zone at once.
func TestKnotSecondaryThousandZones(t *testing.T) {
	const n = 1000
	dir := t.TempDir()
	if err := zonegen.Write(dir, n); err != nil {
		t.Fatal(err)
	}
	var origins []string
	for i := range n {
		origins = append(origins, zonegen.Origin(i))
	}
	knotPort := freePort(t)
	mx := startPrimary(t, dir, fmt.Sprintf("127.0.0.1:%d", knotPort))
	knot := startKnotSecondary(t, knotPort, mx.addr)
	took := hasSerial(t, knot, origins, 1, 120*time.Second, "Knot to provision 1,000 zones")
	t.Logf("provisioned %d zones from the catalog in %v", n, took.Round(time.Millisecond))

	start := time.Now()
	serial := bumpSerial(t, filepath.Join(dir, origins[n/2]+"zone"), nil)
	onPrimary := hasSerial(t, mx.addr, origins[n/2:n/2+1], serial, 10*time.Second, "one edit among 1,000 zones, on the primary")
	hasSerial(t, knot, origins[n/2:n/2+1], serial, 10*time.Second, "one edit among 1,000 zones")
	t.Logf("one edit among %d zones: visible on the primary after %v, on the secondary after %v", n,
		onPrimary.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	for _, o := range origins {
		if o != origins[n/2] {
			bumpSerial(t, filepath.Join(dir, o+"zone"), nil)
		}
	}
	wrote := time.Since(start)
	hasSerial(t, knot, origins, 2, 120*time.Second, "every zone edited at once")
	t.Logf("all %d zones edited (written in %v): all visible on the secondary after %v", n,
		wrote.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// TestCoreDNSSecondary runs a second coredns-mx as a secondary of one zone
// with the stock secondary plugin: it transfers the zone, answers as the
// primary does, and follows an edit by NOTIFY.
func TestCoreDNSSecondary(t *testing.T) {
	dir := copyDir(t, "../zones")
	secPort := freePort(t)
	secAddr := fmt.Sprintf("127.0.0.1:%d", secPort)
	mx := startPrimary(t, dir, secAddr)
	conf := filepath.Join(t.TempDir(), "Corefile")
	corefile := fmt.Sprintf("example.org.:%d {\n    bind 127.0.0.1\n    secondary {\n        transfer from %s\n    }\n}\n", secPort, mx.addr)
	if err := os.WriteFile(conf, []byte(corefile), 0o644); err != nil {
		t.Fatal(err)
	}
	startProcess(t, "secondary", binary, "-conf", conf)
	hasSerial(t, secAddr, []string{"example.org."}, 0, 20*time.Second, "the secondary to transfer example.org.")
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"example.org.", dns.TypeMX}, {"example.org.", dns.TypeA}, {"www.example.org.", dns.TypeA}, {"nope.example.org.", dns.TypeA}} {
		// The stock file plugin answers in its own style (NS records in the
		// authority section of positive answers, the SOA TTL on negative
		// ones, no additional addresses): compare what it must agree on.
		got, want := normalize(ask(t, secAddr, "udp", q.name, q.qtype)), normalize(ask(t, mx.addr, "udp", q.name, q.qtype))
		if got.header != want.header || !slices.Equal(got.answer, want.answer) {
			t.Errorf("%s %s: secondary %s %q, primary %s %q", q.name, dns.TypeToString[q.qtype], got.header, got.answer, want.header, want.answer)
		}
	}
	start := time.Now()
	serial := bumpSerial(t, filepath.Join(dir, "example.org.zone"), func(s string) string {
		return strings.Replace(s, "MX   20 mx2.example.net.", "MX   30 mx2.example.net.", 1)
	})
	hasSerial(t, secAddr, []string{"example.org."}, serial, 10*time.Second, "the CoreDNS secondary to take the edit")
	t.Logf("edit to visible on the CoreDNS secondary: %v", time.Since(start).Round(time.Millisecond))
}
