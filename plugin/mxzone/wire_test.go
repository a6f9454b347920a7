package mxzone

import (
	"context"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
)

// TestMalformedAndOtherOpcodes: what RFC 6891 §6.1.1 and RFC 1035 §4.1.1 say
// of messages that are not plain queries, as Knot answers them. The server
// writes FORMERR and NOTIMP replies itself when the handler returns them;
// NOTAUTH the handler writes.
func TestMalformedAndOtherOpcodes(t *testing.T) {
	m := newTestPlugin(t, writeZones(t, map[string]string{"good.example.zone": soaZone("good.example.")}), DefaultPolicy())
	opt := func() dns.RR {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(1232)
		return o
	}
	query := func(edit func(*dns.Msg)) *dns.Msg {
		r := new(dns.Msg)
		r.SetQuestion("good.example.", dns.TypeSOA)
		edit(r)
		return r
	}
	tests := []struct {
		name    string
		req     *dns.Msg
		rcode   int  // returned by the handler
		written bool // the handler wrote the reply
	}{
		{"one OPT in the additional section", query(func(r *dns.Msg) { r.Extra = []dns.RR{opt()} }), dns.RcodeSuccess, true},
		{"two OPT records", query(func(r *dns.Msg) { r.Extra = []dns.RR{opt(), opt()} }), dns.RcodeFormatError, false},
		{"OPT in the answer section", query(func(r *dns.Msg) { r.Answer = []dns.RR{opt()} }), dns.RcodeFormatError, false},
		{"OPT in the authority section", query(func(r *dns.Msg) { r.Ns = []dns.RR{opt()} }), dns.RcodeFormatError, false},
		{"no question", query(func(r *dns.Msg) { r.Question = nil }), dns.RcodeFormatError, false},
		{"two questions", query(func(r *dns.Msg) { r.Question = append(r.Question, r.Question[0]) }), dns.RcodeFormatError, false},
		{"NOTIFY for a served zone", query(func(r *dns.Msg) { r.Opcode = dns.OpcodeNotify }), dns.RcodeSuccess, true},
		{"UPDATE", query(func(r *dns.Msg) { r.Opcode = dns.OpcodeUpdate }), dns.RcodeNotImplemented, false},
		{"STATUS", query(func(r *dns.Msg) { r.Opcode = dns.OpcodeStatus }), dns.RcodeNotImplemented, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := dnstest.NewRecorder(&test.ResponseWriter{})
			rcode, err := m.ServeDNS(context.Background(), rec, tc.req)
			if err != nil || rcode != tc.rcode {
				t.Fatalf("rcode %s, %v; want %s", dns.RcodeToString[rcode], err, dns.RcodeToString[tc.rcode])
			}
			if (rec.Msg != nil) != tc.written {
				t.Fatalf("reply written: %v, want %v", rec.Msg != nil, tc.written)
			}
			if tc.req.Opcode == dns.OpcodeNotify && (rec.Msg.Rcode != dns.RcodeNotAuth || rec.Msg.Authoritative || len(rec.Msg.Answer) > 0) {
				t.Fatalf("NOTIFY: want NOTAUTH without data, got\n%v", rec.Msg)
			}
		})
	}
}
