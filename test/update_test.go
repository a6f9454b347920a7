package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// tsigKey is one key as tsig-keygen printed it.
type tsigKey struct {
	name, alg, secret string
	conf              string // the key statement, as printed
}

// makeKey runs BIND's tsig-keygen, as a provider does.
func makeKey(t *testing.T, alg, name string) tsigKey {
	t.Helper()
	keygen := requireTool(t, "tsig-keygen")
	out, err := exec.Command(keygen, "-a", alg, name).Output()
	if err != nil {
		t.Fatalf("tsig-keygen: %v", err)
	}
	m := regexp.MustCompile(`secret "([^"]+)"`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("tsig-keygen printed no secret:\n%s", out)
	}
	return tsigKey{name: name, alg: alg, secret: string(m[1]), conf: string(out)}
}

// y is the key in nsupdate's -y form.
func (k tsigKey) y() string { return k.alg + ":" + k.name + ":" + k.secret }

// updateSetup is a zone directory (the shipped zones), a policy directory
// and a state directory for a server that takes updates.
type updateSetup struct {
	zones, policy, state  string
	xfrTo                 string // the transfer plugin's to: where NOTIFY goes
	acme, panel, provider tsigKey
}

func newUpdateSetup(t *testing.T) *updateSetup {
	u := &updateSetup{zones: copyDir(t, "../zones"), policy: t.TempDir(), state: t.TempDir()}
	u.acme = makeKey(t, "hmac-sha256", "acme.example.com")
	u.panel = makeKey(t, "hmac-sha512", "panel.example.com")
	u.provider = makeKey(t, "hmac-sha384", "provider.example.net")
	u.writePolicy(t, "example.com", u.acme.conf+u.panel.conf+
		"grant acme.example.com subdomain _acme-challenge.example.com. TXT;\n"+
		"grant panel.example.com zonesub ANY;\n")
	u.writePolicy(t, "example.net", u.provider.conf+"grant provider.example.net zonesub ANY;\n")
	return u
}

func (u *updateSetup) writePolicy(t *testing.T, zone, text string) {
	t.Helper()
	writeAtomic(t, filepath.Join(u.policy, zone+".conf"), text)
}

func (u *updateSetup) start(t *testing.T, mxLines ...string) *server {
	block := "        reload 1s\n        state " + u.state + "\n        update " + u.policy
	for _, l := range mxLines {
		block += "\n        " + l
	}
	to := u.xfrTo
	if to == "" {
		to = "127.0.0.1"
	}
	return startServer(t, u.zones, block, "transfer {\n        to "+to+"\n    }")
}

// nsupdate runs BIND's nsupdate with args against s and returns its output;
// ok is its exit status 0.
func nsupdate(t *testing.T, s *server, script string, args ...string) (string, bool) {
	t.Helper()
	bin := requireTool(t, "nsupdate")
	host, port, _ := strings.Cut(s.addr, ":")
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(fmt.Sprintf("server %s %s\n%s\nsend\n", host, port, script))
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// txt returns the TXT strings at name, or the rcode's name.
func answers(t *testing.T, s *server, name string, qtype uint16) string {
	t.Helper()
	resp := ask(t, s.addr, "udp", name, qtype)
	if resp.Rcode != dns.RcodeSuccess {
		return dns.RcodeToString[resp.Rcode]
	}
	var out []string
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype == qtype {
			out = append(out, strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
	}
	return strings.Join(out, "|")
}

func serialOf(t *testing.T, s *server, zone string) uint32 {
	t.Helper()
	serial, rcode := soaSerial(s.addr, zone)
	if serial < 0 {
		t.Fatalf("SOA of %s: rcode %d", zone, rcode)
	}
	return uint32(serial)
}

// TestUpdateNsupdate drives the server with BIND's nsupdate as ACME clients
// and control panels do: signed additions and deletions (-y and -k), each
// prerequisite failing with its rcode, a key reaching past its grant, an
// unsigned update, a wrong secret, an unknown key, a zone not served.
func TestUpdateNsupdate(t *testing.T) {
	u := newUpdateSetup(t)
	statusAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s := u.start(t, "status "+statusAddr)
	serial := serialOf(t, s, "example.com.")

	t.Run("add with -y", func(t *testing.T) {
		out, ok := nsupdate(t, s, "zone example.com\nupdate add _acme-challenge.example.com. 60 IN TXT \"token-1\"", "-y", u.acme.y())
		if !ok {
			t.Fatalf("nsupdate: %s", out)
		}
		// Answered after the ack: nothing to wait for.
		if got := answers(t, s, "_acme-challenge.example.com.", dns.TypeTXT); got != `"token-1"` {
			t.Fatalf("TXT after the update: %s", got)
		}
		if got := serialOf(t, s, "example.com."); got != serial+1 {
			t.Fatalf("serial %d after one update, want %d", got, serial+1)
		}
	})
	t.Run("add with -k", func(t *testing.T) {
		keyFile := filepath.Join(t.TempDir(), "panel.key")
		os.WriteFile(keyFile, []byte(u.panel.conf), 0o600)
		out, ok := nsupdate(t, s, "zone example.com\nupdate add host.example.com. 300 IN A 192.0.2.55\nupdate add host.example.com. 300 IN AAAA 2001:db8::55", "-k", keyFile)
		if !ok {
			t.Fatalf("nsupdate -k: %s", out)
		}
		if got := answers(t, s, "host.example.com.", dns.TypeA); got != "192.0.2.55" {
			t.Fatalf("A after the update: %s", got)
		}
	})
	t.Run("delete", func(t *testing.T) {
		before := serialOf(t, s, "example.com.")
		out, ok := nsupdate(t, s, "zone example.com\nupdate delete _acme-challenge.example.com. TXT", "-y", u.acme.y())
		if !ok {
			t.Fatalf("nsupdate: %s", out)
		}
		if got := answers(t, s, "_acme-challenge.example.com.", dns.TypeTXT); got != "NXDOMAIN" {
			t.Fatalf("TXT after the deletion: %s", got)
		}
		if got := serialOf(t, s, "example.com."); got != before+1 {
			t.Fatalf("serial %d after the deletion, want %d", got, before+1)
		}
	})
	for _, c := range []struct{ name, prereq, want string }{
		{"name in use", "prereq yxdomain nothere.example.com.", "NXDOMAIN"},
		{"name not in use", "prereq nxdomain www.example.com.", "YXDOMAIN"},
		{"RRset exists", "prereq yxrrset www.example.com. TXT", "NXRRSET"},
		{"RRset does not exist", "prereq nxrrset www.example.com. A", "YXRRSET"},
		{"RRset exists with this value", "prereq yxrrset www.example.com. A 192.0.2.1", "NXRRSET"},
	} {
		t.Run("prerequisite "+c.name+" fails", func(t *testing.T) {
			before := serialOf(t, s, "example.com.")
			out, ok := nsupdate(t, s, "zone example.com\n"+c.prereq+"\nupdate add pre.example.com. 60 IN A 192.0.2.9", "-y", u.panel.y())
			if ok || !strings.Contains(out, "update failed: "+c.want) {
				t.Fatalf("want update failed: %s, got (ok %v):\n%s", c.want, ok, out)
			}
			if got := answers(t, s, "pre.example.com.", dns.TypeA); got != "NXDOMAIN" {
				t.Fatalf("a refused update changed the zone: %s", got)
			}
			if got := serialOf(t, s, "example.com."); got != before {
				t.Fatalf("serial went from %d to %d on a refused update", before, got)
			}
		})
	}
	t.Run("prerequisite holds", func(t *testing.T) {
		out, ok := nsupdate(t, s, "zone example.com\nprereq yxrrset www.example.com. A 192.0.2.80\nupdate add pre.example.com. 60 IN A 192.0.2.9", "-y", u.panel.y())
		if !ok || answers(t, s, "pre.example.com.", dns.TypeA) != "192.0.2.9" {
			t.Fatalf("nsupdate: %s", out)
		}
	})
	for _, c := range []struct {
		name, script string
		args         []string
		want         string
	}{
		{"beyond the grant", "zone example.com\nupdate add www.example.com. 60 IN TXT \"x\"", []string{"-y", u.acme.y()}, "update failed: REFUSED"},
		{"the apex NS without a grant naming it", "zone example.com\nupdate add example.com. 60 IN NS ns9.example.net.", []string{"-y", u.panel.y()}, "update failed: REFUSED"},
		{"DNSSEC records", "zone example.com\nupdate add example.com. 60 IN DNSKEY 257 3 13 dGVzdA==", []string{"-y", u.panel.y()}, "update failed: REFUSED"},
		{"another zone's key", "zone example.com\nupdate add x.example.com. 60 IN A 192.0.2.1", []string{"-y", u.provider.y()}, "update failed: REFUSED"},
		{"unsigned", "zone example.com\nupdate add x.example.com. 60 IN A 192.0.2.1", nil, "update failed: REFUSED"},
		{"wrong secret", "zone example.com\nupdate add x.example.com. 60 IN A 192.0.2.1", []string{"-y", "hmac-sha256:acme.example.com:" + u.provider.secret}, "NOTAUTH(BADSIG)"},
		{"unknown key", "zone example.com\nupdate add x.example.com. 60 IN A 192.0.2.1", []string{"-y", "hmac-sha256:stranger.example:" + u.acme.secret}, "NOTAUTH(BADKEY)"},
		{"a zone not served", "zone example.invalid\nupdate add x.example.invalid. 60 IN A 192.0.2.1", []string{"-y", u.panel.y()}, "update failed: NOTAUTH"},
		{"outside the zone", "zone example.com\nupdate add x.example.org. 60 IN A 192.0.2.1", []string{"-y", u.panel.y()}, "update failed: NOTZONE"},
	} {
		t.Run("refused: "+c.name, func(t *testing.T) {
			out, ok := nsupdate(t, s, c.script, c.args...)
			if ok || !strings.Contains(out, c.want) {
				t.Fatalf("want %q, got (ok %v):\n%s", c.want, ok, out)
			}
			if got := answers(t, s, "x.example.com.", dns.TypeA); got != "NXDOMAIN" {
				t.Fatalf("a refused update changed the zone: %s", got)
			}
		})
	}
	if got := s.metric(t, `coredns_mxzone_updates_total{result="applied",server="dns://`+s.addr+`"}`); got < 4 {
		t.Errorf("updates_total applied = %v, want at least 4", got)
	}
	if strings.Contains(s.log.String(), u.acme.secret) || strings.Contains(s.log.String(), u.panel.secret) {
		t.Error("a secret is in the log")
	}
	t.Run("status API", func(t *testing.T) {
		resp, err := http.Get("http://" + statusAddr + "/zones/example.com.")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var d struct {
			ServedSerial uint32 `json:"served_serial"`
			Dynamic      *struct {
				Added, Deleted int
				JournalBytes   int64  `json:"journal_bytes"`
				LastSerial     uint32 `json:"journal_last_serial"`
				LastKey        string `json:"last_update_key"`
				Updates        int    `json:"updates_since_start"`
			} `json:"dynamic"`
		}
		if err := json.Unmarshal(body, &d); err != nil || d.Dynamic == nil {
			t.Fatalf("%v: %s", err, body)
		}
		if dy := d.Dynamic; dy.Added != 3 || dy.LastKey != "panel.example.com." || dy.LastSerial != d.ServedSerial || dy.Updates != 4 || dy.JournalBytes == 0 {
			t.Errorf("dynamic: %+v (served serial %d)", *dy, d.ServedSerial)
		}
		if strings.Contains(string(body), u.panel.secret) || strings.Contains(string(body), u.acme.secret) {
			t.Error("a secret is in the status API")
		}
		page, err := http.Get("http://" + statusAddr + "/zone?name=example.com.")
		if err != nil {
			t.Fatal(err)
		}
		defer page.Body.Close()
		html, _ := io.ReadAll(page.Body)
		if !strings.Contains(string(html), "3 records added and 0 deleted by UPDATE; 4 updates since the start, the last by key panel.example.com.") {
			t.Errorf("the zone page does not show the dynamic changes:\n%s", html)
		}
	})
	t.Run("a control panel takes the dynamic changes over", func(t *testing.T) {
		drop, err := exec.Command(binary, "dynamic", "--conf", s.conf, "--drop", "example.com").Output()
		if err != nil || !strings.Contains(string(drop), "update delete host.example.com.\t300\tIN\tA\t192.0.2.55\n") {
			t.Fatalf("dynamic --drop: %v\n%s", err, drop)
		}
		served, err := exec.Command(binary, "dynamic", "--conf", s.conf, "example.com").Output()
		if err != nil || !strings.Contains(string(served), "host.example.com.\t300\tIN\tA\t192.0.2.55\n") {
			t.Fatalf("dynamic: %v\n%s", err, served)
		}
		writeAtomic(t, filepath.Join(u.zones, "example.com.zone"), string(served))
		waitFor(t, 10*time.Second, "the delta to empty", func() bool {
			resp, err := http.Get("http://" + statusAddr + "/zones/example.com.")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return strings.Contains(string(body), `"added": 0`) && strings.Contains(string(body), `"deleted": 0`)
		})
		if got := answers(t, s, "host.example.com.", dns.TypeA); got != "192.0.2.55" {
			t.Fatalf("after the take-over: %s", got)
		}
	})
}

// signedUpdate sends one update with miekg/dns, TSIG-signed and with EDNS,
// and returns the reply (to read its Extended DNS Error).
