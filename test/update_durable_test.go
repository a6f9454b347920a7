package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestUpdateDurableAndMerged: every acknowledged update is served after a
// kill -9; a torn journal tail is dropped with one log line; a file edit
// (with a lower serial) is merged with the updates; deleting the file
// deletes the zone, its dynamic records and its journal.
func TestUpdateDurableAndMerged(t *testing.T) {
	u := newUpdateSetup(t)
	s := u.start(t)
	for i := range 20 {
		out, ok := nsupdate(t, s, fmt.Sprintf("zone example.com\nupdate add h%d.example.com. 300 IN A 192.0.2.%d", i, 100+i), "-y", u.panel.y())
		if !ok {
			t.Fatalf("update %d: %s", i, out)
		}
	}
	serial := serialOf(t, s, "example.com.")
	s.cmd.Process.Kill()
	s.cmd.Wait()

	s = u.start(t)
	for i := range 20 {
		if got := answers(t, s, fmt.Sprintf("h%d.example.com.", i), dns.TypeA); got != fmt.Sprintf("192.0.2.%d", 100+i) {
			t.Fatalf("after kill -9: h%d: %s", i, got)
		}
	}
	if got := serialOf(t, s, "example.com."); got != serial {
		t.Fatalf("serial %d after the restart, was %d: the same content keeps its serial", got, serial)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()

	// A torn tail, as a crash in the middle of a write leaves it.
	jnl := filepath.Join(u.state, "journal", "example.com.jnl")
	f, err := os.OpenFile(jnl, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 1, 0, 0xde, 0xad, 0xbe, 0xef, 3, 1, 2})
	f.Close()
	s = u.start(t)
	if n := strings.Count(s.log.String(), "torn or damaged tail dropped"); n != 1 {
		t.Fatalf("want one log line for the torn tail, got %d:\n%s", n, s.log)
	}
	if got := answers(t, s, "h19.example.com.", dns.TypeA); got != "192.0.2.119" {
		t.Fatalf("after the torn tail: %s", got)
	}
	if st, err := os.Stat(jnl); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("journal file %v: want mode 0600", st.Mode())
	}

	// A file edit with a lower serial: merged, the served serial goes up.
	zoneFile := filepath.Join(u.zones, "example.com.zone")
	text, _ := os.ReadFile(zoneFile)
	edited := strings.Replace(string(text), "2026113001", "2020010101", 1) + "fromfile IN A 192.0.2.77\n"
	served := serialOf(t, s, "example.com.")
	writeAtomic(t, zoneFile, edited)
	waitFor(t, 10*time.Second, "the file edit", func() bool { return answers(t, s, "fromfile.example.com.", dns.TypeA) == "192.0.2.77" })
	if got := answers(t, s, "h3.example.com.", dns.TypeA); got != "192.0.2.103" {
		t.Fatalf("an update's record after a file edit: %s", got)
	}
	if got := serialOf(t, s, "example.com."); got != served+1 {
		t.Fatalf("serial %d after a file edit with a lower serial, want %d", got, served+1)
	}

	// Deleted means deleted: the dynamic records and the journal go too.
	os.Remove(zoneFile)
	waitFor(t, 10*time.Second, "the deletion", func() bool {
		return ask(t, s.addr, "udp", "example.com.", dns.TypeSOA).Rcode == dns.RcodeRefused
	})
	if _, err := os.Stat(jnl); !os.IsNotExist(err) {
		t.Fatalf("journal after the zone's deletion: %v", err)
	}
	writeAtomic(t, zoneFile, string(text))
	waitFor(t, 10*time.Second, "the zone made again", func() bool { return answers(t, s, "www.example.com.", dns.TypeA) == "192.0.2.80" })
	if got := answers(t, s, "h3.example.com.", dns.TypeA); got != "NXDOMAIN" {
		t.Fatalf("a zone made again serves the deleted zone's dynamic record: %s", got)
	}
}

// TestUpdateKeyChange: a key added to a policy file works once the server
// restarted in-process with it; a key removed is refused at
// once; the zones keep serving throughout.
func TestUpdateKeyChange(t *testing.T) {
	u := newUpdateSetup(t)
	s := u.start(t)
	fresh := makeKey(t, "hmac-sha256", "cert-manager.example.com")
	u.writePolicy(t, "example.com", u.panel.conf+fresh.conf+
		"grant cert-manager.example.com name _acme-challenge.example.com. TXT;\n"+
		"grant panel.example.com zonesub ANY;\n")
	waitFor(t, 20*time.Second, "the new key to work", func() bool {
		_, ok := nsupdate(t, s, "zone example.com\nupdate add _acme-challenge.example.com. 60 IN TXT \"cm\"", "-y", fresh.y())
		if answers(t, s, "www.example.com.", dns.TypeA) != "192.0.2.80" {
			t.Fatal("the zones stopped answering during the key change")
		}
		return ok
	})
	if out, ok := nsupdate(t, s, "zone example.com\nupdate add _acme-challenge.example.com. 60 IN TXT \"old\"", "-y", u.acme.y()); ok || !strings.Contains(out, "REFUSED") && !strings.Contains(out, "BADKEY") {
		t.Fatalf("the removed key still updates:\n%s", out)
	}
	if got := answers(t, s, "_acme-challenge.example.com.", dns.TypeTXT); got != `"cm"` {
		t.Fatalf("TXT: %s", got)
	}
	if !strings.Contains(s.log.String(), "restarting the server instance") {
		t.Errorf("no in-process restart logged:\n%s", s.log)
	}
	t.Log(s.log)
}

// TestUpdateKillDuringUpdates kills the server with SIGKILL while updates
// stream in, three times: after each restart every acknowledged update is
// served, and no update is half there (each adds two records in one
// message: both or neither).
func TestUpdateKillDuringUpdates(t *testing.T) {
	u := newUpdateSetup(t)
	acked := map[int]bool{}
	sent := 0
	for round := range 3 {
		s := u.start(t)
		check := func(when string) {
			for i := range sent {
				a := answers(t, s, fmt.Sprintf("k%da.example.com.", i), dns.TypeA) != "NXDOMAIN"
				b := answers(t, s, fmt.Sprintf("k%db.example.com.", i), dns.TypeTXT) != "NXDOMAIN"
				if a != b {
					t.Fatalf("%s: update %d is half applied (A %v, TXT %v)", when, i, a, b)
				}
				if acked[i] && !a {
					t.Fatalf("%s: acknowledged update %d is not served", when, i)
				}
			}
		}
		check(fmt.Sprintf("start %d", round))
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			name := dns.Fqdn(u.panel.name)
			c := &dns.Client{Net: "udp", Timeout: time.Second, TsigSecret: map[string]string{name: u.panel.secret}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := sent
				sent++
				m := new(dns.Msg)
				m.SetUpdate("example.com.")
				m.Insert([]dns.RR{mustRR(t, fmt.Sprintf("k%da.example.com. 60 IN A 192.0.2.1", i)), mustRR(t, fmt.Sprintf("k%db.example.com. 60 IN TXT \"x\"", i))})
				m.SetTsig(name, dns.HmacSHA512, 300, time.Now().Unix())
				if resp, _, err := c.Exchange(m, s.addr); err == nil && resp.Rcode == dns.RcodeSuccess {
					acked[i] = true
				}
			}
		}()
		waitFor(t, 20*time.Second, "some updates acknowledged", func() bool {
			select {
			case <-done:
				return true
			default:
			}
			return s.metric(t, `coredns_mxzone_updates_total{result="applied",server="dns://`+s.addr+`"}`) >= 10
		})
		s.cmd.Process.Kill()
		s.cmd.Wait()
		close(stop)
		<-done
	}
	s := u.start(t)
	for i := range sent {
		a := answers(t, s, fmt.Sprintf("k%da.example.com.", i), dns.TypeA) != "NXDOMAIN"
		b := answers(t, s, fmt.Sprintf("k%db.example.com.", i), dns.TypeTXT) != "NXDOMAIN"
		if a != b || acked[i] && !a {
			t.Fatalf("after the last kill: update %d: A %v, TXT %v, acknowledged %v", i, a, b, acked[i])
		}
	}
	if len(acked) < 30 {
		t.Fatalf("only %d updates acknowledged in three rounds", len(acked))
	}
}

// TestUpdateLargeZoneHoldsUpNoOne: the update of a large signed zone is
// drafted and signed outside the reload lock, so updates of another zone
// go on while it is applied (an ordering, not a timing).
func TestUpdateLargeZoneHoldsUpNoOne(t *testing.T) {
	u := newUpdateSetup(t)
	var big strings.Builder
	big.WriteString("$TTL 3600\n@ SOA ns1.example.net. hostmaster.example.net. 1 7200 3600 1209600 300\n@ NS ns1.example.net.\n")
	for i := range 50000 {
		fmt.Fprintf(&big, "h%d A 10.%d.%d.%d\n", i, i>>16&255, i>>8&255, i&255)
	}
	writeAtomic(t, filepath.Join(u.zones, "big.example.zone"), big.String())
	bigKey := makeKey(t, "hmac-sha256", "big.example")
	u.writePolicy(t, "big.example", bigKey.conf+"grant big.example zonesub ANY;\n")
	s := u.start(t, "dnssec")
	send := func(k tsigKey, zone, name string) error {
		m := new(dns.Msg)
		m.SetUpdate(zone)
		m.Insert([]dns.RR{mustRR(t, name+" 60 IN TXT \"x\"")})
		kn := dns.Fqdn(k.name)
		alg := map[string]string{"hmac-sha256": dns.HmacSHA256, "hmac-sha512": dns.HmacSHA512}[k.alg]
		m.SetTsig(kn, alg, 300, time.Now().Unix())
		c := &dns.Client{Net: "tcp", Timeout: 30 * time.Second, TsigSecret: map[string]string{kn: k.secret}}
		resp, _, err := c.Exchange(m, s.addr)
		if err == nil && resp.Rcode != dns.RcodeSuccess {
			err = fmt.Errorf("%s", dns.RcodeToString[resp.Rcode])
		}
		return err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := send(bigKey, "big.example.", "x.big.example."); err != nil {
			t.Error(err)
		}
	}()
	// Small updates of another zone, one after the other, while the large
	// one is in flight: with the large zone built and signed under the lock,
	// at most the first could get in before it.
	before := 0
	for i := 0; ; i++ {
		select {
		case <-done:
			if before < 3 {
				t.Fatalf("%d updates of another zone were acknowledged while the large zone's update was applied", before)
			}
			return
		default:
		}
		if err := send(u.acme, "example.com.", "_acme-challenge.example.com."); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		default:
			before++
		}
		if i > 100000 {
			t.Fatal("the large zone's update never finished")
		}
	}
}
