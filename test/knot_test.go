package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startKnot serves the zone files of dir with knotd on a free loopback port.
func startKnot(t *testing.T, dir string, origins []string) string {
	t.Helper()
	knotd := requireTool(t, "knotd")
	run := t.TempDir()
	port := freePort(t)
	var conf strings.Builder
	fmt.Fprintf(&conf, "server:\n    listen: 127.0.0.1@%d\n    rundir: %s\n", port, run)
	fmt.Fprintf(&conf, "log:\n  - target: stderr\n    any: warning\n")
	fmt.Fprintf(&conf, "database:\n    storage: %s\n", run)
	conf.WriteString("acl:\n  - id: local\n    address: 127.0.0.1\n    action: transfer\n")
	fmt.Fprintf(&conf, "template:\n  - id: default\n    storage: %s\n    semantic-checks: off\n    zonefile-sync: -1\n    journal-content: none\n    acl: local\n", dir)
	conf.WriteString("zone:\n")
	for _, o := range origins {
		fmt.Fprintf(&conf, "  - domain: %s\n    file: %szone\n", o, o)
	}
	path := filepath.Join(run, "knot.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	startProcess(t, "knotd", knotd, "-c", path)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// Ready when every zone answers its SOA.
	waitFor(t, 20*time.Second, "knotd to load the zones", func() bool {
		for _, o := range origins {
			req := new(dns.Msg)
			req.SetQuestion(o, dns.TypeSOA)
			resp, err := dns.Exchange(req, addr)
			if err != nil || resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
				return false
			}
		}
		return true
	})
	return addr
}

// zoneNames returns the origins served from dir and every owner name in
// them, plus names that do not exist under each zone and its wildcards.
func zoneNames(t *testing.T, dir string) (origins, names []string) {
	t.Helper()
	origins = zoneOrigins(dir)
	var owners []string
	for _, origin := range origins {
		f := filepath.Join(dir, origin+"zone")
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		zp := dns.NewZoneParser(fh, origin, f)
		for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
			owners = append(owners, rr.Header().Name)
		}
		fh.Close()
		if err := zp.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return origins, questionNames(origins, owners)
}

// zoneOrigins are the origins of the zone files in dir.
func zoneOrigins(dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "*.zone"))
	var origins []string
	for _, f := range files {
		origins = append(origins, dns.Fqdn(strings.TrimSuffix(filepath.Base(f), ".zone")))
	}
	return origins
}

// knotNames returns the owner names of the zones as Knot DNS read them
// (through $INCLUDE, with what miekg/dns cannot parse), from an AXFR of
// each, plus the names questionNames adds.
func knotNames(t *testing.T, knot string, origins []string) []string {
	t.Helper()
	var owners []string
	for _, origin := range origins {
		req := new(dns.Msg)
		req.SetAxfr(origin)
		env, err := new(dns.Transfer).In(req, knot)
		if err != nil {
			t.Fatalf("AXFR %s from knotd: %v", origin, err)
		}
		for e := range env {
			if e.Error != nil {
				t.Fatalf("AXFR %s from knotd: %v", origin, e.Error)
			}
			for _, rr := range e.RR {
				owners = append(owners, rr.Header().Name)
			}
		}
	}
	return questionNames(origins, owners)
}

// questionNames are the owners (a wildcard's as a name it matches), a name
// below each, and for each zone a name that does not exist and names under
// its DNAMEs, if it has them.
func questionNames(origins, owners []string) []string {
	seen := map[string]bool{}
	var names []string
	add := func(n string) {
		if n = strings.ToLower(n); !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	for _, owner := range owners {
		add(strings.Replace(owner, "*", "anything", 1))
		add("nonexistent." + owner)
	}
	for _, origin := range origins {
		add("nonexistent-" + strings.TrimSuffix(origin, ".") + "." + origin)
		add("below.out." + origin) // under a DNAME, if there is one
		add("www.in." + origin)
		add("x.chain." + origin)
	}
	sort.Strings(names)
	return names
}

// inheritedTTL is the one TTL difference allowed: in a zone file without
// $TTL, a record without a TTL after one with a TTL takes that TTL (RFC 1035
// section 5.1, as BIND and miekg/dns read it), where Knot gives it its
// default of 3600. The key is the zone, the value the TTL the file states
// (testdata/rfc/nottl.example.zone).
var inheritedTTL = map[string]string{"nottl.example.": "\t300\t"}

// inheritedTTLs returns got with the records that differ from one in want
// only by that allowed TTL written as in want.
func inheritedTTLs(got, want []string) []string {
	var out []string
	for _, rr := range got {
		owner, _, _ := strings.Cut(rr, "\t")
		for zone, ttl := range inheritedTTL {
			if dns.IsSubDomain(zone, owner) && strings.Contains(rr, ttl) && !slices.Contains(want, rr) {
				if knot := strings.Replace(rr, ttl, "\t3600\t", 1); slices.Contains(want, knot) {
					rr = knot
				}
			}
		}
		out = append(out, rr)
	}
	sort.Strings(out)
	return out
}

// normalized is one reply reduced to what the comparison looks at.
type normalized struct {
	header  string
	answer  []string
	ns      []string
	extra   []string
	extraRR []dns.RR
}

func normalize(m *dns.Msg) normalized {
	set := func(rrs []dns.RR) []string {
		var out []string
		for _, rr := range rrs {
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			out = append(out, strings.ToLower(rr.String()))
		}
		sort.Strings(out)
		return out
	}
	var extra []dns.RR
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	return normalized{
		header: fmt.Sprintf("rcode=%s aa=%v tc=%v", dns.RcodeToString[m.Rcode], m.Authoritative, m.Truncated),
		answer: set(m.Answer), ns: set(m.Ns), extra: set(m.Extra), extraRR: extra,
	}
}

// zoneOf returns the longest origin that holds name.
func zoneOf(name string, origins []string) string {
	best := ""
	for _, o := range origins {
		if dns.IsSubDomain(o, strings.ToLower(name)) && len(o) > len(best) {
			best = o
		}
	}
	return best
}

// TestAnswersMatchKnot serves the same zones with coredns-mx and Knot DNS and
// compares the replies for every owner name and some that do not exist,
// times MX, A, AAAA, SOA, NS, TXT and CNAME, over UDP and TCP.
//
// Allowed difference, by design: coredns-mx adds to the additional section
// the addresses of MX/NS/SRV targets that live in another zone it serves
// (customer MX records point at the provider's mail hosts). Knot only adds
// addresses from the zone being answered from. Every other difference fails.
func TestAnswersMatchKnot(t *testing.T) {
	for _, dir := range []string{answersDir, "../zones", "testdata/rfc"} {
		t.Run(filepath.Base(dir), func(t *testing.T) { compareWithKnot(t, copyDir(t, dir)) })
	}
}

func compareWithKnot(t *testing.T, dir string) {
	origins := zoneOrigins(dir)
	knot := startKnot(t, dir, origins)
	names := knotNames(t, knot, origins)
	s := startServer(t, dir, "reload 0")
	compared := compareAnswers(t, knot, s.addr, origins, names)
	t.Logf("compared %d replies with Knot DNS", compared)
	if compared < 100 {
		t.Fatalf("only %d comparisons: the name list is too short to mean anything", compared)
	}
}

// compareAnswers asks knot and coredns-mx the same questions about names
// (in the zones origins) and reports every difference but the allowed one.
// It returns the number of replies compared.
func compareAnswers(t *testing.T, knot, mx string, origins, names []string, do ...bool) int {
	t.Helper()
	qtypes := []uint16{dns.TypeMX, dns.TypeA, dns.TypeAAAA, dns.TypeSOA, dns.TypeNS, dns.TypeTXT, dns.TypeCNAME,
		dns.TypeDNAME, dns.TypeDS, dns.TypeSVCB, dns.TypeHTTPS}
	compared := 0
	for _, proto := range []string{"udp", "tcp"} {
		for _, name := range names {
			for _, qt := range qtypes {
				label := fmt.Sprintf("%s %s %s", proto, name, dns.TypeToString[qt])
				want := normalize(ask(t, knot, proto, name, qt, do...))
				got := normalize(ask(t, mx, proto, name, qt, do...))
				compared++
				qzone := zoneOf(name, origins)
				var extra []string
				for _, rr := range got.extraRR {
					owner := rr.Header().Name
					if z := zoneOf(owner, origins); z != "" && z != qzone && !slices.Contains(want.extra, strings.ToLower(rr.String())) {
						continue // allowed: an address from another served zone
					}
					extra = append(extra, strings.ToLower(rr.String()))
				}
				sort.Strings(extra)
				if got.header != want.header {
					t.Errorf("%s: header %s, knot %s", label, got.header, want.header)
				}
				for _, sec := range []struct {
					name      string
					got, want []string
				}{{"answer", inheritedTTLs(got.answer, want.answer), want.answer}, {"authority", inheritedTTLs(got.ns, want.ns), want.ns},
					{"additional", inheritedTTLs(extra, want.extra), want.extra}} {
					if !slices.Equal(sec.got, sec.want) {
						t.Errorf("%s: %s section differs\n  coredns-mx: %q\n  knot:       %q", label, sec.name, sec.got, sec.want)
					}
				}
			}
		}
	}
	return compared
}

// TestAnswersMatchKnotSigned compares the answers to a zone signed with
// NSEC3 by BIND's dnssec-signzone (no salt, no extra iterations: RFC 9276),
// served as it is: the owners of NSEC3 records are no names of the zone
// (RFC 5155 section 7.2.8), and queries without DO get no DNSSEC records.
func TestAnswersMatchKnotSigned(t *testing.T) {
	keygen := requireTool(t, "dnssec-keygen")
	signzone := requireTool(t, "dnssec-signzone")
	work, dir := t.TempDir(), t.TempDir()
	zone := "$TTL 3600\n@ SOA ns1 host 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n@ MX 10 mail\n" +
		"mail A 192.0.2.25\nwww A 192.0.2.80\n*.w TXT \"wild\"\nsub NS ns.sub\nns.sub A 192.0.2.99\n"
	if err := os.WriteFile(filepath.Join(work, "signed.example.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Dir = work
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
	}
	run(keygen, "-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "signed.example")
	run(keygen, "-q", "-a", "ECDSAP256SHA256", "signed.example")
	run(signzone, "-q", "-S", "-3", "-", "-H", "0", "-o", "signed.example.", "-f", filepath.Join(dir, "signed.example.zone"),
		"-K", ".", "signed.example.zone")
	compareWithKnot(t, dir)
}

// svcbVectors are the presentation forms of RFC 9460 appendix D.1 and D.2,
// one owner each, with the IPv4-mapped ipv6hint that miekg/dns cannot hold.
var svcbVectors = [][3]string{
	{"alias", "HTTPS", `0 foo.example.com.`},
	{"s1", "SVCB", `1 .`},
	{"s2", "SVCB", `16 foo.example.com. port=53`},
	{"s3", "SVCB", `1 foo.example.com. key667=hello`},
	{"s4", "SVCB", `1 foo.example.com. key667="hello\210qoo"`},
	{"s5", "SVCB", `1 foo.example.com. ipv6hint="2001:db8::1,2001:db8::53:1"`},
	{"s6", "SVCB", `1 example.com. ipv6hint="2001:db8:122:344::192.0.2.33"`},
	{"s7", "SVCB", `16 foo.example.org. ( alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1 )`},
	{"s8", "SVCB", `16 foo.example.org. alpn="f\\\\oo\\,bar,h2"`},
	{"s9", "SVCB", `16 foo.example.org. alpn=f\\\092oo\092,bar,h2`},
	{"mapped", "SVCB", `1 web.vectors.example. ( ipv6hint="::ffff:198.51.100.100" )`},
	{"h", "HTTPS", `1 . alpn=h2 ipv6hint=2001:db8::1,::ffff:192.0.2.1`},
}

// TestSVCBVectorsMatchKnot: the RFC 9460 appendix D vectors, including the
// IPv4-mapped ipv6hint that miekg/dns cannot hold (so neither can this
// test's client), are served as Knot DNS serves them: dig's reading of both
// replies (answer and additional), over UDP and TCP.
func TestSVCBVectorsMatchKnot(t *testing.T) {
	dig := requireTool(t, "dig")
	dir := t.TempDir()
	zone := "$TTL 3600\n@ SOA ns1 host 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\nweb A 192.0.2.80\nh A 192.0.2.81\n"
	for _, v := range svcbVectors {
		zone += v[0] + " " + v[1] + " " + v[2] + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "vectors.example.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	knot := startKnot(t, dir, []string{"vectors.example."})
	s := startServer(t, dir, "reload 0")
	id := regexp.MustCompile(`, id: \d+`)
	reply := func(addr, name, qtype, proto string) string {
		host, port, _ := strings.Cut(addr, ":")
		out, err := exec.Command(dig, "@"+host, "-p", port, name, qtype, "+norec", "+noall", "+answer", "+additional",
			"+comments", "+"+proto).CombinedOutput()
		if err != nil {
			t.Fatalf("dig: %v\n%s", err, out)
		}
		var keep []string
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "status:") || line != "" && !strings.HasPrefix(line, ";") {
				keep = append(keep, strings.Join(strings.Fields(id.ReplaceAllString(line, "")), " "))
			}
		}
		return strings.Join(keep, "\n")
	}
	for _, proto := range []string{"notcp", "tcp"} {
		for _, v := range svcbVectors {
			name := v[0] + ".vectors.example."
			got, want := reply(s.addr, name, v[1], proto), reply(knot, name, v[1], proto)
			if !strings.Contains(want, "NOERROR") || strings.Count(want, "\n") < 1 {
				t.Fatalf("knot has no %s %s:\n%s", name, v[1], want)
			}
			if got != want {
				t.Errorf("%s %s %s:\n  coredns-mx:\n%s\n  knot:\n%s", proto, name, v[1], got, want)
			}
		}
	}
}
