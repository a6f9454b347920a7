package mxzone

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/miekg/dns"
)

// TestHostileFiles: every one of these is a finding and a refused zone, never
// a panic, a hang, or a read outside the zone directory.
func TestHostileFiles(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("root:x:0:0:SECRET-CONTENT\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		rule  Rule
		want  string
	}{
		{"include by absolute path", func(t *testing.T, dir string) {
			writeFile(t, dir, "x.example.zone", soaZone("x.example.")+"$INCLUDE "+secret+"\n")
		}, RuleIsolation, "refused: the path leads outside the zone directory"},
		{"include climbing out", func(t *testing.T, dir string) {
			writeFile(t, dir, "x.example.zone", soaZone("x.example.")+"$INCLUDE ../../../../../../.."+secret+"\n")
		}, RuleIsolation, "refused"},
		{"include through a symlink", func(t *testing.T, dir string) {
			if err := os.Symlink(secret, filepath.Join(dir, "link.inc")); err != nil {
				t.Fatal(err)
			}
			writeFile(t, dir, "x.example.zone", soaZone("x.example.")+"$INCLUDE link.inc\n")
		}, RuleIsolation, "symbolic link"},
		{"include of itself", func(t *testing.T, dir string) {
			writeFile(t, dir, "x.example.zone", soaZone("x.example.")+"$INCLUDE x.example.zone\n")
		}, RuleSyntax, "too deeply nested"},
		{"zone file is a symlink out of the directory", func(t *testing.T, dir string) {
			if err := os.Symlink(secret, filepath.Join(dir, "x.example.zone")); err != nil {
				t.Fatal(err)
			}
		}, RuleIsolation, "outside the zone directory"},
		{"zone file is a FIFO", func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "x.example.zone"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, RuleSyntax, "not a regular file"},
		{"zone file is a directory", func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, "x.example.zone"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, RuleSyntax, "not a regular file"},
		{"binary junk", func(t *testing.T, dir string) {
			writeFile(t, dir, "x.example.zone", "\x00\xff\xfe\x01garbage\x00\n\x7f")
		}, RuleSyntax, "syntax error"},
		{"a line of 10 MB", func(t *testing.T, dir string) {
			writeFile(t, dir, "x.example.zone", soaZone("x.example.")+strings.Repeat("a", 10<<20)+" A 192.0.2.1\n")
		}, RuleSyntax, "syntax error"},
		{"a zone file in a symlink loop", func(t *testing.T, dir string) {
			symlink(t, "loop.zone.link", filepath.Join(dir, "x.example.zone"))
			symlink(t, "x.example.zone", filepath.Join(dir, "loop.zone.link"))
		}, RuleIsolation, "in a loop"},
		{"include of a symlink loop", func(t *testing.T, dir string) {
			symlink(t, "loop.inc", filepath.Join(dir, "loop.inc"))
			writeFile(t, dir, "x.example.zone", soaZone("x.example.")+"$INCLUDE loop.inc\n")
		}, RuleIsolation, "symbolic link"},
		{"includes nested 20 deep", func(t *testing.T, dir string) {
			for i := range 20 {
				writeFile(t, dir, fmt.Sprintf("n%d.inc", i), fmt.Sprintf("$INCLUDE n%d.inc\nh%d A 192.0.2.1\n", i+1, i))
			}
			writeFile(t, dir, "n20.inc", "deep A 192.0.2.1\n")
			writeFile(t, dir, "x.example.zone", soaZone("x.example.")+"$INCLUDE n0.inc\n")
		}, RuleSyntax, "too deeply nested"},
		{"a 1 GB sparse file", func(t *testing.T, dir string) {
			f, err := os.Create(filepath.Join(dir, "x.example.zone"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(1 << 30); err != nil {
				t.Fatal(err)
			}
		}, RuleSyntax, "exceed the limit"},
		{"a million records in one zone", func(t *testing.T, dir string) {
			var b strings.Builder
			b.WriteString(soaZone("x.example."))
			for i := range 1_000_000 {
				b.WriteString("h")
				b.WriteString(strconv.Itoa(i))
				b.WriteString(" A 192.0.2.1\n")
			}
			writeFile(t, dir, "x.example.zone", b.String())
		}, RuleSyntax, "more than the limit of 200000 records"},
		{"a NUL byte in an NS target", func(t *testing.T, dir string) {
			writeFile(t, dir, "x.example.zone", soaZone("x.example.", `sub NS ns\000.example.net.`))
		}, RuleIntegrity, "NS target ns\\000.example.net. holds a NUL"},
		{"a control byte in an SRV target", func(t *testing.T, dir string) {
			writeFile(t, dir, "x.example.zone", soaZone("x.example.", `_sip._tcp SRV 0 0 5060 sip\007.example.net.`))
		}, RuleIntegrity, "SRV target sip\\007.example.net. holds a NUL or control byte"},
		{"a NUL byte in an MX target", func(t *testing.T, dir string) {
			writeFile(t, dir, "x.example.zone", soaZone("x.example.", `@ MX 10 mail\000.example.net.`))
		}, RuleIntegrity, "MX target mail\\000.example.net. holds a NUL"},
		{"invalid UTF-8 in a name", func(t *testing.T, dir string) {
			writeFile(t, dir, "x.example.zone", soaZone("x.example.", "ma\xffil A 192.0.2.1"))
		}, RuleIntegrity, "raw non-ASCII bytes"},
		{"an escaped dot that leaves the origin", func(t *testing.T, dir string) {
			writeFile(t, dir, "x.example.zone", soaZone("x.example.", `www.evil\.x.example. A 192.0.2.1`))
		}, RuleIsolation, "outside the zone x.example."},
		{"a file over the size limit", func(t *testing.T, dir string) {
			writeFile(t, dir, "x.example.zone", soaZone("x.example.")+strings.Repeat("; padding\n", int(DefaultLimits().FileBytes)/10+1))
		}, RuleSyntax, "exceed the limit"},
		{"an invalid domain as file name", func(t *testing.T, dir string) {
			writeFile(t, dir, "bad..name.zone", soaZone("x.example."))
		}, RuleSyntax, "does not name a valid domain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeZones(t, map[string]string{"example.net.zone": provider})
			tc.setup(t, dir)
			res, err := Check([]string{dir}, DefaultPolicy(), DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			var hit bool
			for _, f := range res.Findings {
				if strings.Contains(f.Message, "SECRET") {
					t.Fatalf("finding echoes the contents of a file outside the directory: %s", f)
				}
				if f.Rule == tc.rule && f.Severity == SeverityFail && strings.Contains(f.Message, tc.want) {
					hit = true
				}
			}
			if !hit {
				t.Fatalf("no %s error containing %q in %v", tc.rule, tc.want, res.Findings)
			}
			for _, z := range res.Zones {
				if z.Zone == "example.net." && !z.Served {
					t.Fatal("the good zone beside the hostile file was refused")
				}
			}
		})
	}
}

// TestControlBytesInOwnerNames: an owner with a NUL or control byte, and a
// CNAME to one, are legal DNS names: served, with a warning naming the byte.
func TestControlBytesInOwnerNames(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "x.example.zone", soaZone("x.example.", `mail\000 A 192.0.2.1`, `tab\009name TXT "x"`, `alias CNAME mail\000`))
	rep, err := Check([]string{dir}, DefaultPolicy(), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Zones) != 1 || !rep.Zones[0].Served {
		t.Fatalf("refused: %+v", rep)
	}
	var warned []string
	for _, f := range rep.Findings {
		if f.Severity >= SeverityFail {
			t.Errorf("error for a legal name: %s", f)
		}
		if f.Rule == RuleIntegrity && f.Severity == SeverityWarn {
			warned = append(warned, f.Message)
		}
	}
	for _, want := range []string{`owner name mail\000.x.example. holds a NUL`, `owner name tab\009name.x.example.`, `CNAME target mail\000.x.example.`} {
		if !slices.ContainsFunc(warned, func(m string) bool { return strings.Contains(m, want) }) {
			t.Errorf("no warning containing %q in %q", want, warned)
		}
	}
}

func symlink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseZone(f *testing.F) {
	f.Add([]byte(provider))
	f.Add([]byte(soaZone("fuzz.example.", "@ MX 10 mail", "mail CNAME x", "*.w MX 0 .")))
	f.Add([]byte("$INCLUDE fuzz.example.zone\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "fuzz.example.zone"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Check([]string{dir}, DefaultPolicy(), DefaultLimits()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLimits(t *testing.T) {
	t.Run("records", func(t *testing.T) {
		for _, fast := range []bool{true, false} {
			var lines []string
			for i := range 50 {
				line := "h" + strconv.Itoa(i) + " A 192.0.2.1"
				if !fast {
					line = "h" + strconv.Itoa(i) + " 1h A 192.0.2.1" // TTL units: the full parser
				}
				lines = append(lines, line)
			}
			dir := writeZones(t, map[string]string{"example.net.zone": provider, "big.example.zone": soaZone("big.example.", lines...)})
			res, err := Check([]string{dir}, DefaultPolicy(), Limits{FileBytes: 1 << 20, Records: 20})
			if err != nil {
				t.Fatal(err)
			}
			var hit bool
			for _, f := range res.Findings {
				hit = hit || f.Zone == "big.example." && strings.Contains(f.Message, "more than the limit of 20 records")
			}
			if !hit {
				t.Fatalf("fast=%v: no record-limit finding in %v", fast, res.Findings)
			}
		}
	})
	t.Run("records per RRset and types per name", func(t *testing.T) {
		var big, many []string
		for i := range 6 {
			big = append(big, "@ MX "+strconv.Itoa(i)+" mx"+strconv.Itoa(i)+".example.net.")
		}
		for _, typ := range []string{"TXT \"a\"", "HINFO a b", "LOC 0 0 0 N 0 0 0 E 0", "RP . .", "SSHFP 1 1 0123456789abcdef0123456789abcdef01234567"} {
			many = append(many, "w "+typ)
		}
		limits := DefaultLimits()
		limits.RRsetRecords, limits.TypesPerName = 5, 4
		tests := []struct {
			name, zone, line, want string
		}{
			{"six MX at the apex", soaZone("x.example.", big...), "x.example.zone:10", "6 MX records at one name exceed the limit of 5 per RRset (max_rrset_records)"},
			{"five types at one name", soaZone("x.example.", many...), "x.example.zone:9", "more than 4 record types at one name (max_types_per_name)"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				dir := writeZones(t, map[string]string{"x.example.zone": tc.zone})
				res, err := Check([]string{dir}, DefaultPolicy(), limits)
				if err != nil {
					t.Fatal(err)
				}
				var hit bool
				for _, f := range res.Findings {
					hit = hit || f.Severity == SeverityFail && strings.HasSuffix(fmt.Sprintf("%s:%d", f.File, f.Line), tc.line) && f.Message == tc.want
				}
				if !hit || res.Zones[0].Served {
					t.Fatalf("no refusing finding %q at %s in %v", tc.want, tc.line, res.Findings)
				}
				// At the limit the zone is served.
				limits := limits
				limits.RRsetRecords, limits.TypesPerName = 6, 5
				if res, _ := Check([]string{dir}, DefaultPolicy(), limits); res.Errors() != 0 {
					t.Fatalf("refused at the limit: %v", res.Findings)
				}
			})
		}
	})
	t.Run("names, empty non-terminals included", func(t *testing.T) {
		// Four owners, and eight empty non-terminals between two of them and the apex: twelve names.
		dir := writeZones(t, map[string]string{"x.example.zone": soaZone("x.example.", "a.b.c.d.e A 192.0.2.1", "f.g.h.i.j A 192.0.2.1")})
		limits := DefaultLimits()
		for names, refused := range map[int]bool{12: false, 11: true} {
			limits.Names = names
			res, err := Check([]string{dir}, DefaultPolicy(), limits)
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("zone has more than the limit of %d names, empty non-terminals included (max_names)", names)
			if hit := slices.ContainsFunc(res.Findings, func(f Finding) bool { return f.Message == want }); hit != refused || res.Zones[0].Served == refused {
				t.Fatalf("max_names %d: findings %v, served %v", names, res.Findings, res.Zones[0].Served)
			}
		}
	})
	t.Run("zones", func(t *testing.T) {
		dir := writeZones(t, map[string]string{"example.net.zone": provider})
		m := newTestPlugin(t, dir, DefaultPolicy())
		m.loader.limits.Zones = 2
		for _, o := range []string{"a", "b", "c"} {
			writeFile(t, dir, o+".example.zone", customer(o+".example.", "1"))
		}
		if err := m.reload(); err != nil {
			t.Fatal(err)
		}
		g := m.gen.Load()
		if len(g.zones) != 2 || g.zones["a.example."] == nil || g.zones["example.net."] == nil {
			t.Fatalf("zones served: %d, want example.net. and a.example. only", len(g.zones))
		}
	})
}

// TestPublicSuffixZones: a zone file for an ICANN public suffix would answer
// for every domain under it (and feed its addresses into other zones' MX
// answers); it is refused unless the provider allows it by name.
func TestPublicSuffixZones(t *testing.T) {
	files := map[string]string{
		"com.zone":          soaZone("com.", "mail.victim A 192.0.2.66"),
		"co.uk.zone":        soaZone("co.uk."),
		"example.com.zone":  soaZone("example.com."),
		"shop.example.zone": soaZone("shop.example.", "@ MX 10 mail.victim.com."),
	}
	for _, tc := range []struct {
		name    string
		allow   []string
		refused []string
	}{
		{"refused by default", nil, []string{"com.", "co.uk."}},
		{"allowed by name", []string{"com."}, []string{"co.uk."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &MXZone{Origins: []string{"."}, server: "dns://test", loader: &loader{dir: writeZones(t, files),
				origins: []string{"."}, policy: DefaultPolicy(), limits: DefaultLimits(), publicSuffixes: tc.allow}}
			if err := m.reload(); err != nil {
				t.Fatal(err)
			}
			g := m.gen.Load()
			for _, o := range []string{"com.", "co.uk."} {
				if refused := slices.Contains(tc.refused, o); (g.zones[o] == nil) != refused {
					t.Errorf("%s: served %v, want refused %v", o, g.zones[o] != nil, refused)
				}
			}
			if g.zones["example.com."] == nil {
				t.Fatal("example.com. is not a public suffix and must be served")
			}
			msg, _ := query(t, m, "shop.example.", dns.TypeMX)
			if fromCom := len(msg.Extra) > 0; fromCom == slices.Contains(tc.refused, "com.") {
				t.Fatalf("additional addresses from com.: %v, want %v", fromCom, !fromCom)
			}
		})
	}
}
