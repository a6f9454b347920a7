package mxzone

import (
	"net"
	"testing"

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
