package mxzone

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/rollover"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/sign"

	"github.com/miekg/dns"
)

// TestDSSeenAtParentServers: with parent_servers, the new DS counts as
// seen only when every server serves it.
func TestDSSeenAtParentServers(t *testing.T) {
	k, err := sign.NewKey("shop.example.", dns.ECDSAP256SHA256)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := sign.NewKey("shop.example.", dns.ECDSAP256SHA256)
	serve := func(key *sign.Key) string {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			ds := key.DNSKEY.ToDS(dns.SHA256)
			ds.Hdr = dns.RR_Header{Name: "shop.example.", Rrtype: dns.TypeDS, Class: dns.ClassINET, Ttl: 60}
			m.Answer = append(m.Answer, ds)
			w.WriteMsg(m)
		})}
		go srv.ActivateAndServe()
		t.Cleanup(func() { srv.Shutdown() })
		return pc.LocalAddr().String()
	}
	good, bad := serve(k), serve(other)
	ks := &keyState{keys: []*sign.Key{k}, state: &rollover.State{}}
	for _, tc := range []struct {
		name    string
		parents []string
		want    bool
	}{
		{"one server with the DS", []string{good}, true},
		{"one server without it", []string{good, bad}, false},
		{"no server: only the operator can say", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newKeyring(t.TempDir(), dns.ECDSAP256SHA256)
			r.parents = tc.parents
			if got := r.dsSeen("shop.example.", ks, []string{k.ID()}); got != tc.want {
				t.Errorf("dsSeen %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRequestsTakenBySigning: an operator's requests are read, each taken
// by its zone's next signing (one state written) and its file removed once
// that state is durable; a request refused (a ZSK roll with one combined
// key, a zone not signed here) is logged and removed; and the rounds that
// follow wait for the next step instead of looking again at once.
func TestRequestsTakenBySigning(t *testing.T) {
	dir, state := writeZones(t, map[string]string{"parent.test.zone": parentZone, "shop.parent.test.zone": shopZone}), t.TempDir()
	m := newSignedPlugin(t, dir, state, false)
	r := m.signing.ring
	m.refresh(time.Now())
	for origin, req := range map[string]rollover.Request{
		"shop.parent.test.": {Kind: rollover.RollCSK},
		"parent.test.":      {Kind: rollover.RollZSK},
		"unknown.test.":     {Kind: rollover.RollCSK},
	} {
		if err := RequestKeys(r.store.Dir, origin, req); err != nil {
			t.Fatal(err)
		}
	}
	m.takeRequests()
	if _, err := os.Stat(filepath.Join(requestDir(r.store.Dir), "unknown.test.request")); !os.IsNotExist(err) {
		t.Errorf("the request for a zone not served is kept (%v)", err)
	}
	m.refresh(time.Now())
	if left, _ := os.ReadDir(requestDir(r.store.Dir)); len(left) != 0 {
		t.Errorf("requests left after their zones were signed: %v", left)
	}
	keys := func(zone string) int { return len(queryDO(t, m, zone, dns.TypeDNSKEY, false).Answer) }
	if n := keys("shop.parent.test."); n != 2 {
		t.Errorf("shop has %d DNSKEYs after its CSK roll was asked, want 2", n)
	}
	if n := keys("parent.test."); n != 1 {
		t.Errorf("parent has %d DNSKEYs after a refused request, want 1", n)
	}
	st, err := KeyStatus(r.store.Dir, "shop.parent.test.")
	if err != nil || st.NextAt == nil {
		t.Fatalf("status %+v, %v", st, err)
	}

	// The rollover's next step is a propagation delay away: once the
	// rounds it asked for are done (the parent, for the child's DS), a
	// round looks at every zone once and leaves the loop asleep until then.
	for i := 0; m.refresh(time.Now()) > 0; i++ {
		if i == 3 {
			t.Fatal("zones due round after round")
		}
	}
	for len(r.wake) > 0 {
		<-r.wake
	}
	if due := m.dueForSigning(m.gen.Load(), time.Now()); len(due) != 0 {
		t.Errorf("due again at once: %d zones", len(due))
	}
	if len(r.wake) != 0 {
		t.Error("a round with nothing due wakes the refresh loop again at once")
	}
	if at := time.Unix(0, r.nextAt.Load()); !at.Equal(*st.NextAt) && at.Sub(*st.NextAt).Abs() > time.Second {
		t.Errorf("the loop wakes at %v, the step is at %v", at, *st.NextAt)
	}
}
