package zone

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// build parses text (absolute or relative to origin) and indexes it the
// way a caller of Build must hand records over: owners lower case, sorted
// by owner and type.
func build(t testing.TB, origin, text string) *Zone {
	t.Helper()
	zp := dns.NewZoneParser(strings.NewReader(text), origin, "")
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rr.Header().Name = strings.ToLower(rr.Header().Name)
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	Sort(rrs)
	z, err := Build(origin, rrs, 0)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

const example = `$TTL 3600
@            SOA   ns1 host 1 7200 3600 1209600 300
@            NS    ns1
@            MX    10 mail
ns1          A     192.0.2.53
mail         A     192.0.2.25
mail         AAAA  2001:db8::25
alias        CNAME mail
a.b.c        A     192.0.2.1
*.w          A     192.0.2.2
*.w          MX    10 mail
x.w          TXT   "exact beats the wildcard"
ent.w        NS    ns.elsewhere.example.
y.z.w        A     192.0.2.3
sub          NS    ns.sub
ns.sub       A     192.0.2.54
`

// TestLookup: RFC 1034 §4.3.2 step by step, with the RFC 4592 wildcard
// rules (an empty non-terminal blocks the wildcard above it).
func TestLookup(t *testing.T) {
	z := build(t, "example.org.", example)
	tests := []struct {
		name  string
		kind  Kind
		node  string // the node found
		types []uint16
		cut   string
	}{
		{"example.org.", Exact, "example.org.", []uint16{dns.TypeNS, dns.TypeSOA, dns.TypeMX}, ""},
		{"mail.example.org.", Exact, "mail.example.org.", []uint16{dns.TypeA, dns.TypeAAAA}, ""},
		{"alias.example.org.", Exact, "alias.example.org.", []uint16{dns.TypeCNAME}, ""},
		{"nope.example.org.", None, "", nil, ""},
		// Empty non-terminals exist, hold no data, and stop the walk.
		{"b.c.example.org.", Exact, "b.c.example.org.", nil, ""},
		{"c.example.org.", Exact, "c.example.org.", nil, ""},
		{"q.c.example.org.", None, "", nil, ""},
		// Wildcards: at the closest encloser only.
		{"anything.w.example.org.", Wildcard, "*.w.example.org.", []uint16{dns.TypeA, dns.TypeMX}, ""},
		{"two.labels.w.example.org.", Wildcard, "*.w.example.org.", []uint16{dns.TypeA, dns.TypeMX}, ""},
		{"x.w.example.org.", Exact, "x.w.example.org.", []uint16{dns.TypeTXT}, ""},
		{"*.w.example.org.", Exact, "*.w.example.org.", []uint16{dns.TypeA, dns.TypeMX}, ""},
		// z.w is an empty non-terminal: below it the wildcard of w does not apply (RFC 4592 §2.2.2).
		{"z.w.example.org.", Exact, "z.w.example.org.", nil, ""},
		{"q.z.w.example.org.", None, "", nil, ""},
		// Zone cuts: at and below the delegation, whatever lies below.
		{"sub.example.org.", Delegated, "sub.example.org.", []uint16{dns.TypeNS}, "sub.example.org."},
		{"ns.sub.example.org.", Delegated, "sub.example.org.", []uint16{dns.TypeNS}, "sub.example.org."},
		{"deep.x.sub.example.org.", Delegated, "sub.example.org.", []uint16{dns.TypeNS}, "sub.example.org."},
		{"ent.w.example.org.", Delegated, "ent.w.example.org.", []uint16{dns.TypeNS}, "ent.w.example.org."},
		// Outside the zone.
		{"example.com.", None, "", nil, ""},
		{"org.", None, "", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := z.Lookup(tc.name)
			if m.Kind != tc.kind || m.Node.Name() != tc.node || m.Cut != tc.cut {
				t.Fatalf("kind %d node %q cut %q, want %d %q %q", m.Kind, m.Node.Name(), m.Cut, tc.kind, tc.node, tc.cut)
			}
			var types []uint16
			for k := range m.Node.NumSets() {
				types = append(types, m.Node.SetAt(k).Type())
			}
			slices.Sort(types)
			want := slices.Clone(tc.types)
			slices.Sort(want)
			if !slices.Equal(types, want) {
				t.Fatalf("types %v, want %v", types, want)
			}
		})
	}
}

func TestGlueIsKeptBelowTheCut(t *testing.T) {
	z := build(t, "example.org.", example)
	glue, ok := z.Node("ns.sub.example.org.")
	if !ok || !glue.Has(dns.TypeA) || !glue.HasAddress() {
		t.Fatal("the glue below the cut is not reachable by Node")
	}
}

func TestApexAndNegative(t *testing.T) {
	z := build(t, "example.org.", example)
	if z.Origin() != "example.org." || z.SOA() == nil || z.Serial() != 1 || z.Apex().Name() != "example.org." {
		t.Fatalf("origin %q soa %v apex %q", z.Origin(), z.SOA(), z.Apex().Name())
	}
	neg := z.Negative()
	// RFC 2308 §3: the TTL of the SOA in a negative answer is min(SOA TTL, MINIMUM).
	want := z.SOA()
	want.Hdr.Ttl = 300
	if len(neg) != 1 || cap(neg) != 1 || neg[0].String() != want.String() || z.SOA().Hdr.Ttl != 3600 {
		t.Fatalf("negative %v (cap %d), want %v", neg, cap(neg), want)
	}
	// Names that need escapes take the general path, to the same result.
	odd := build(t, "odd.example.", "$TTL 60\n@ SOA ns\\.1 host\\032master 5 1 2 3 30\n")
	soa := odd.SOA()
	soa.Hdr.Ttl = 30
	if neg := odd.Negative(); len(neg) != 1 || neg[0].String() != soa.String() {
		t.Fatalf("negative %v, want %v", neg, soa)
	}
	if z.Len() != 15 {
		t.Fatalf("Len %d, want 15", z.Len())
	}
	if z, err := Build("empty.example.", nil, 0); err != nil || z.Negative() != nil || z.Serial() != 0 {
		t.Fatalf("a zone without SOA: %v", err)
	}
}

func TestRRsetWire(t *testing.T) {
	z := build(t, "example.org.", example)
	n, _ := z.Node("mail.example.org.")
	set, _ := n.Set(dns.TypeAAAA)
	if set.Owner() != "mail.example.org." || set.Wire() != dns.Len(set.RRs()[0]) {
		t.Fatalf("owner %q wire %d", set.Owner(), set.Wire())
	}
}

func TestLabelStarts(t *testing.T) {
	var buf [MaxLabels]uint16
	tests := []struct {
		name string
		want []uint16
	}{
		{".", nil},
		{"example.org.", []uint16{0, 8}},
		{`a\.b.example.`, []uint16{0, 5}},
		{`a\046b.example.`, []uint16{0, 7}},
	}
	for _, tc := range tests {
		if got := LabelStarts(tc.name, &buf); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	deep := strings.Repeat("a.", 200)
	if got := LabelStarts(deep, &buf); len(got) != MaxLabels {
		t.Errorf("200 labels: %d offsets, want the cap %d", len(got), MaxLabels)
	}
}

func TestAncestors(t *testing.T) {
	var got []string
	for a := range Ancestors("a.b.example.org.") {
		got = append(got, a)
	}
	if want := []string{"b.example.org.", "example.org.", "org."}; !slices.Equal(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
}

func TestTarget(t *testing.T) {
	for rr, want := range map[string]string{
		"x. MX 10 mail.example.":      "mail.example.",
		"x. NS ns.example.":           "ns.example.",
		"x. SRV 0 0 25 smtp.example.": "smtp.example.",
		"x. CNAME c.example.":         "c.example.",
		"x. DNAME d.example.":         "d.example.",
		"x. PTR p.example.":           "p.example.",
		"x. A 192.0.2.1":              "",
		"x. TXT \"mail.example.\"":    "",
	} {
		r, err := dns.NewRR(rr)
		if err != nil {
			t.Fatal(err)
		}
		if got := Target(r); got != want {
			t.Errorf("%s: %q, want %q", rr, got, want)
		}
	}
}

// TestRecordsRoundTrip: every record comes back from the packed zone as it
// went in, whatever its type, through the fast paths and the generic one.
func TestRecordsRoundTrip(t *testing.T) {
	text := `$TTL 300
@        SOA   ns1 Host.Master 2026113001 7200 3600 1209600 300
@        NS    ns1
@        NS    NS2.Example.Net.
@        MX    0 .
sub      MX    10 mail
sub      MX    20 Mail2.Example.Net.
odd      MX    10 we\.ird\032name.example.org.
ns1      A     192.0.2.53
ns1      A     192.0.2.54
ns1      AAAA  2001:db8::53
alias    CNAME ns1
rev      PTR   host.example.org.
txt      TXT   "v=spf1 -all" "second string" "with \"quotes\" and \\ backslash"
srv      SRV   10 5 25 mail
caa      CAA   0 issue "ca.example.net"
unknown  TYPE65000 \# 3 abcdef
`
	z := build(t, "example.org.", text)
	want := map[string]bool{}
	zp := dns.NewZoneParser(strings.NewReader(text), "example.org.", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rr.Header().Name = strings.ToLower(rr.Header().Name)
		want[rr.String()] = true
	}
	got := 0
	for s := range z.All {
		for _, rr := range s.RRs() {
			got++
			if !want[rr.String()] {
				t.Errorf("came back as %q, which did not go in", rr)
			}
			if rr.Header().Name != s.Owner() {
				t.Errorf("%q: owner %q, want %q", rr, rr.Header().Name, s.Owner())
			}
		}
		// Owned by another name, as for a wildcard or the client's spelling.
		for _, rr := range s.AppendTo(nil, "Other.Example.ORG.") {
			if rr.Header().Name != "Other.Example.ORG." || rr.Header().Rrtype != s.Type() {
				t.Errorf("%q: not owned by the name asked for", rr)
			}
		}
	}
	if got != len(want) || got != z.Len() {
		t.Fatalf("%d records came back, %d went in, Len %d", got, len(want), z.Len())
	}
}

// TestRecordsAreTheCallers: what a caller does to the records it got never
// reaches the zone.
func TestRecordsAreTheCallers(t *testing.T) {
	z := build(t, "example.org.", example)
	n, _ := z.Node("mail.example.org.")
	a, _ := n.Set(dns.TypeA)
	first := a.RRs()[0].(*dns.A)
	first.A[3] = 99
	first.Hdr.Ttl = 1
	if again := a.RRs()[0].(*dns.A); again.A.String() != "192.0.2.25" || again.Hdr.Ttl != 3600 {
		t.Fatalf("the zone changed with its caller's copy: %v", again)
	}
}

// TestBuildRefusesWhatCannotBeAnswered: a record that cannot be written in
// wire form is refused when the zone is built, never at query time.
func TestBuildRefusesWhatCannotBeAnswered(t *testing.T) {
	soa, _ := dns.NewRR("example.org. 300 SOA ns1.example.org. host.example.org. 1 2 3 4 5")
	bad := &dns.NSEC{Hdr: dns.RR_Header{Name: "x.example.org.", Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: 300},
		NextDomain: "y.example.org.", TypeBitMap: []uint16{dns.TypeMX, dns.TypeA}} // not in ascending order
	_, err := Build("example.org.", []dns.RR{soa, bad}, 0)
	var re *RecordError
	if !errors.As(err, &re) || re.Index != 1 {
		t.Fatalf("error %v, want a RecordError for record 1", err)
	}
}

func TestWithin(t *testing.T) {
	tests := []struct {
		name, origin string
		want         bool
	}{
		{"example.org.", "example.org.", true},
		{"a.example.org.", "example.org.", true},
		{"a.b.example.org.", "example.org.", true},
		{"aexample.org.", "example.org.", false},
		{"org.", "example.org.", false},
		{"anything.", ".", true},
		{`a\.example.org.`, "example.org.", false},   // the dot is part of a label
		{`a\\.example.org.`, "example.org.", true},   // an escaped backslash, then a real dot
		{`a\046example.org.`, "example.org.", false}, // \046 is a dot inside a label
		{"example.com.", "example.org.", false},
	}
	for _, tc := range tests {
		if got := Within(tc.name, tc.origin); got != tc.want {
			t.Errorf("Within(%q, %q) = %v, want %v", tc.name, tc.origin, got, tc.want)
		}
		if got := dns.IsSubDomain(tc.origin, tc.name); got != tc.want {
			t.Errorf("dns.IsSubDomain(%q, %q) = %v: the test is wrong", tc.origin, tc.name, got)
		}
	}
}

// TestAppendAddresses: a host's A and then AAAA records, whatever their
// number, owned by the name asked for.
func TestAppendAddresses(t *testing.T) {
	z := build(t, "example.org.", `$TTL 300
@     SOA  ns host 1 2 3 4 5
one   A    192.0.2.1
one   AAAA 2001:db8::1
two   A    192.0.2.2
two   A    192.0.2.3
two   AAAA 2001:db8::2
six   AAAA 2001:db8::6
none  TXT  "no address"
`)
	tests := []struct {
		name string
		want []string
	}{
		{"one.example.org.", []string{"192.0.2.1", "2001:db8::1"}},
		{"two.example.org.", []string{"192.0.2.2", "192.0.2.3", "2001:db8::2"}},
		{"six.example.org.", []string{"2001:db8::6"}},
		{"none.example.org.", nil},
	}
	for _, tc := range tests {
		n, _ := z.Node(tc.name)
		got := n.AppendAddresses(nil, "Host.Example.ORG.")
		var addrs []string
		for _, rr := range got {
			if rr.Header().Name != "Host.Example.ORG." || rr.Header().Ttl != 300 {
				t.Errorf("%s: %v not owned by the name asked for", tc.name, rr)
			}
			switch v := rr.(type) {
			case *dns.A:
				addrs = append(addrs, v.A.String())
			case *dns.AAAA:
				addrs = append(addrs, v.AAAA.String())
			}
		}
		if !slices.Equal(addrs, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, addrs, tc.want)
		}
		if len(got) > 0 {
			got[0].Header().Ttl = 1 // the caller's to change
			if again := n.AppendAddresses(nil, tc.name); again[0].Header().Ttl != 300 {
				t.Errorf("%s: a change to a returned record reached the zone", tc.name)
			}
		}
	}
}

// TestFit: how many records fit in a given room, counted without name
// compression, and AppendFirst makes exactly those.
func TestFit(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("$TTL 300\n@ SOA ns host 1 2 3 4 5\n")
	for i := range 10 {
		sb.WriteString("@ A 192.0.2." + strconv.Itoa(i) + "\n")
	}
	z := build(t, "example.org.", sb.String())
	set, _ := z.Apex().Set(dns.TypeA)
	one := len("example.org.") + 1 + 10 + 4 // owner, type/class/TTL/length, address
	for _, tc := range []struct{ room, want int }{
		{0, 0}, {one - 1, 0}, {one, 1}, {3*one + 5, 3}, {10 * one, 10}, {1 << 20, 10},
	} {
		if got := set.Fit("example.org.", tc.room); got != tc.want {
			t.Errorf("Fit(%d) = %d, want %d", tc.room, got, tc.want)
		}
		if got := len(set.AppendFirst(nil, "example.org.", tc.want)); got != tc.want {
			t.Errorf("AppendFirst(%d) made %d records", tc.want, got)
		}
	}
	if dns.Len(set.RRs()[0]) != one {
		t.Fatalf("one record is %d bytes, not %d: the test is wrong", dns.Len(set.RRs()[0]), one)
	}
}
