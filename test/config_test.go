package test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestCorefileProperties: each property of the mxzone block changes what
// the real binary serves, and the same files without it serve otherwise.
func TestCorefileProperties(t *testing.T) {
	base := zoneWithSPF("good.example.", "v=spf1 mx -all")
	cases := []struct {
		name   string
		files  map[string]string
		block  string // the mxzone block's properties
		extra  []string
		q      string
		qtype  uint16
		expect func(r *dns.Msg) string // "" when right
	}{
		{"fallthrough: NXDOMAIN to the next plugin", map[string]string{"good.example.zone": base}, "fallthrough", []string{"whoami"},
			"nope.good.example.", dns.TypeA, fromWhoami(true)},
		{"no fallthrough: NXDOMAIN answered here", map[string]string{"good.example.zone": base}, "", []string{"whoami"},
			"nope.good.example.", dns.TypeA, rcodeAA(dns.RcodeNameError)},
		{"fallthrough for another zone only", map[string]string{"good.example.zone": base}, "fallthrough other.example.", []string{"whoami"},
			"nope.good.example.", dns.TypeA, rcodeAA(dns.RcodeNameError)},
		{"fallthrough: an existing name answered here", map[string]string{"good.example.zone": base}, "fallthrough", []string{"whoami"},
			"mail.good.example.", dns.TypeA, fromWhoami(false)},
		{"a rule set to ignore serves the zone", map[string]string{"cname.example.zone": cnameMX("cname.example.")}, "mx_target_cname ignore", nil,
			"cname.example.", dns.TypeMX, rcodeAA(dns.RcodeSuccess)},
		{"the same zone refused by default", map[string]string{"cname.example.zone": cnameMX("cname.example.")}, "", nil,
			"cname.example.", dns.TypeMX, rcodeIs(dns.RcodeServerFailure)},
		{"max_rrset_records refuses a larger RRset", map[string]string{"big.example.zone": manyA("big.example.", 5)}, "max_rrset_records 4", nil,
			"big.example.", dns.TypeSOA, rcodeIs(dns.RcodeServerFailure)},
		{"max_rrset_records lets an RRset at the limit through", map[string]string{"big.example.zone": manyA("big.example.", 4)}, "max_rrset_records 4", nil,
			"big.example.", dns.TypeSOA, rcodeAA(dns.RcodeSuccess)},
		{"max_types_per_name refuses more types", map[string]string{"t.example.zone": base0("t.example.") + "x A 192.0.2.1\nx AAAA 2001:db8::1\nx TXT \"t\"\n"}, "max_types_per_name 2", nil,
			"t.example.", dns.TypeSOA, rcodeIs(dns.RcodeServerFailure)},
		{"max_names refuses more names", map[string]string{"n.example.zone": manyNames("n.example.", 20)}, "max_names 10", nil,
			"n.example.", dns.TypeSOA, rcodeIs(dns.RcodeServerFailure)},
		{"max_records refuses more records", map[string]string{"n.example.zone": manyNames("n.example.", 20)}, "max_records 10", nil,
			"n.example.", dns.TypeSOA, rcodeIs(dns.RcodeServerFailure)},
		{"max_file_size refuses a larger file", map[string]string{"n.example.zone": manyNames("n.example.", 200)}, "max_file_size 1K", nil,
			"n.example.", dns.TypeSOA, rcodeIs(dns.RcodeServerFailure)},
		// Never loaded: the server does not answer for it at all.
		{"a public suffix is not served", map[string]string{"co.uk.zone": base0("co.uk.")}, "", nil,
			"co.uk.", dns.TypeSOA, rcodeIs(dns.RcodeRefused)},
		{"allow_public_suffix serves it", map[string]string{"co.uk.zone": base0("co.uk.")}, "allow_public_suffix co.uk.", nil,
			"co.uk.", dns.TypeSOA, rcodeAA(dns.RcodeSuccess)},
		{"includes: a fragment the patterns allow", map[string]string{"i.example.zone": base0("i.example.") + "$INCLUDE mail.inc\n", "mail.inc": "m A 192.0.2.7\n"}, "includes *.inc", nil,
			"m.i.example.", dns.TypeA, rcodeAA(dns.RcodeSuccess)},
		{"includes: a fragment the patterns do not allow", map[string]string{"i.example.zone": base0("i.example.") + "$INCLUDE mail.txt\n", "mail.txt": "m A 192.0.2.7\n"}, "includes *.inc", nil,
			"m.i.example.", dns.TypeA, rcodeIs(dns.RcodeServerFailure)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, text := range tc.files {
				writeAtomic(t, filepath.Join(dir, name), text)
			}
			s := startServer(t, dir, "        reload 1h\n        "+tc.block, tc.extra...)
			r := ask(t, s.addr, "udp", tc.q, tc.qtype)
			if why := tc.expect(r); why != "" {
				t.Errorf("%s %s: %s\n%v", tc.q, dns.TypeToString[tc.qtype], why, r)
			}
		})
	}
}

// base0 is a zone of origin with its SOA, NS and the NS's address only.
func base0(origin string) string {
	return fmt.Sprintf("$ORIGIN %s\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.53\n", origin)
}

func cnameMX(origin string) string {
	return base0(origin) + "@ MX 10 alias\nalias CNAME host\nhost A 192.0.2.25\n"
}

// manyA is a zone whose name www has n A records.
func manyA(origin string, n int) string {
	var b strings.Builder
	b.WriteString(base0(origin))
	for i := range n {
		fmt.Fprintf(&b, "www A 192.0.2.%d\n", i+1)
	}
	return b.String()
}

// manyNames is a zone with n more names, one A record each.
func manyNames(origin string, n int) string {
	var b strings.Builder
	b.WriteString(base0(origin))
	for i := range n {
		fmt.Fprintf(&b, "h%d A 192.0.2.1\n", i)
	}
	return b.String()
}

// fromWhoami checks whether the reply came from the whoami plugin (its
// _udp SRV record in the additional section), as want says.
func fromWhoami(want bool) func(r *dns.Msg) string {
	return func(r *dns.Msg) string {
		got := false
		for _, rr := range r.Extra {
			if srv, ok := rr.(*dns.SRV); ok && strings.HasPrefix(srv.Hdr.Name, "_udp.") {
				got = true
			}
		}
		switch {
		case got != want:
			return fmt.Sprintf("answered by the next plugin: %v, want %v", got, want)
		case !want && (!r.Authoritative || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0):
			return "not the zone's authoritative answer"
		}
		return ""
	}
}

func rcodeIs(rcode int) func(r *dns.Msg) string {
	return func(r *dns.Msg) string {
		if r.Rcode != rcode {
			return fmt.Sprintf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[rcode])
		}
		return ""
	}
}

func rcodeAA(rcode int) func(r *dns.Msg) string {
	return func(r *dns.Msg) string {
		if why := rcodeIs(rcode)(r); why != "" {
			return why
		}
		if !r.Authoritative {
			return "no AA"
		}
		return ""
	}
}

// TestDNSSECZones: with dnssec's zones, the zones at or below those listed
// are signed and the others served unsigned.
func TestDNSSECZones(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	for _, origin := range []string{"signed.example.", "sub.signed.example.", "plain.example."} {
		writeAtomic(t, filepath.Join(dir, origin+"zone"), base0(origin))
	}
	s := startServer(t, dir, dnssecBlock(state, "zones signed.example."))
	for origin, signed := range map[string]bool{"signed.example.": true, "sub.signed.example.": true, "plain.example.": false} {
		r := ask(t, s.addr, "udp", origin, dns.TypeDNSKEY, true)
		if got := len(r.Answer) > 0; got != signed || r.Rcode != dns.RcodeSuccess {
			t.Errorf("%s: DNSKEY %v (rcode %s), want signed %v", origin, r.Answer, dns.RcodeToString[r.Rcode], signed)
		}
	}
}
