package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone"

	"github.com/coredns/caddy"
)

func TestDirectivesRegistered(t *testing.T) {
	registered := caddy.ListPlugins()["others"]
	for _, d := range directives {
		if !slices.Contains(registered, "dns."+d) {
			t.Errorf("directive %q has no registered plugin", d)
		}
	}
	for _, required := range []string{"errors", "log", "health", "ready", "prometheus", "reload", "bind", "root", "cache",
		"acl", "any", "chaos", "whoami", "loadbalance", "transfer", "dnssec", "tsig", "file", "auto", "secondary", "dynupdate", "mxzone"} {
		if !slices.Contains(directives, required) {
			t.Errorf("directive %q missing", required)
		}
	}
}

func TestDirectiveOrder(t *testing.T) {
	at := func(name string) int { return slices.Index(directives, name) }
	if at("root") != 0 {
		t.Error("root must come first")
	}
	for _, before := range []string{"errors", "log", "cache", "transfer", "dnssec", "loadbalance", "acl", "any"} {
		if at(before) > at("mxzone") {
			t.Errorf("%s must wrap mxzone", before)
		}
	}
	for _, after := range []string{"dynupdate", "file", "auto", "secondary", "whoami"} {
		if at(after) < at("mxzone") {
			t.Errorf("%s must come after mxzone, for fallthrough", after)
		}
	}
}

func TestDescribePlugins(t *testing.T) {
	if out := describePlugins(); !strings.Contains(out, "  dns.mxzone\n") {
		t.Fatalf("-plugins output lacks dns.mxzone:\n%s", out)
	}
}

func TestRunCheckExitCodes(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runCheck([]string{"../../zones"}, nil, &out, &errOut); code != exitClean {
		t.Fatalf("shipped zones: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if code := runCheck(nil, nil, &out, &errOut); code != exitUsage {
		t.Fatalf("no paths: exit %d", code)
	}
	if code := runCheck([]string{"--format", "yaml", "../../zones"}, nil, &out, &errOut); code != exitUsage {
		t.Fatalf("bad format: exit %d", code)
	}
}

// TestCheckMailMistakes: the README's example, one mistake of each mail
// family checked together with the shipped zones, is caught rule by rule.
func TestCheckMailMistakes(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runCheck([]string{"--format", "json", "../../zones", "testdata/mistakes"}, nil, &out, &errOut); code != exitErrors {
		t.Fatalf("exit %d, want %d\n%s", code, exitErrors, errOut.String())
	}
	var findings []mxzone.Finding
	if err := json.Unmarshal(out.Bytes(), &findings); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"mx_target_hostname": "error", "mx_target_reachable": "error", "spf": "warning", "spf_lookups": "error",
		"spf_permissive": "error", "dmarc": "error", "dmarc_reports": "warning", "dkim": "error", "mta_sts": "error",
		"tls_rpt": "error", "tlsa": "error", "null_mx": "info",
	}
	for _, f := range findings {
		if want[f.Rule.String()] == f.Severity.String() && strings.HasPrefix(f.File, "testdata/mistakes/") {
			delete(want, f.Rule.String())
		}
		if strings.HasPrefix(f.File, "../../zones") && f.Severity > mxzone.SeverityInfo {
			t.Errorf("a shipped zone has a finding: %v", f)
		}
	}
	if len(want) > 0 {
		t.Fatalf("not caught: %v\nfindings: %s", want, out.String())
	}
}

func TestCheckFlags(t *testing.T) {
	permissive := "$TTL 3600\n@ SOA ns1.example.net. h.example.net. 1 7200 3600 1209600 300\n@ NS ns1.example.net.\n" +
		"@ MX 10 mx1.example.net.\n@ TXT \"v=spf1 mx +all\"\n"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "open.example.zone"), []byte(permissive), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  string // in the output
	}{
		{"a failing rule", []string{dir}, "", exitErrors, ":5: error: open.example.: SPF record: \"+all\""},
		{"--rule makes it a warning", []string{"--rule", "spf_permissive=warn", dir}, "", exitClean, ":5: warning: open.example.: SPF record: \"+all\""},
		{"--rule ignores it", []string{"--rule", "spf_permissive=ignore", dir}, "", exitClean, "0 errors"},
		{"--rule with an unknown rule", []string{"--rule", "spf_perm=warn", dir}, "", exitUsage, `unknown rule "spf_perm"`},
		{"--rule with an unknown severity", []string{"--rule", "spf=maybe", dir}, "", exitUsage, `unknown severity "maybe"`},
		{"--rule without a severity", []string{"--rule", "spf", dir}, "", exitUsage, "is not NAME=fail|warn|ignore"},
		{"a zone on standard input", []string{"--origin", "open.example", "-"}, permissive, exitErrors, "-:5: error: open.example.: SPF record"},
		{"standard input checked with the provider's zones", []string{"--origin", "open.example.", "-", "../../zones"},
			strings.Replace(permissive, "+all", "-all", 1), exitClean, "6 zone files checked: 6 would be served"},
		{"standard input whose MX the provider's zones refute", []string{"--origin", "open.example.", "-", "../../zones"},
			strings.Replace(permissive, "mx1.example.net.", "mx9.example.net.", 1), exitErrors, "-:4: error: open.example.: exchange mx9.example.net. does not exist in zone example.net."},
		{"standard input replacing the zone's file in a directory", []string{"--origin", "example.org", "-", "../../zones"},
			strings.Replace(permissive, "+all", "-all", 1), exitClean, "5 zone files checked: 5 would be served"},
		{"a file under another name", []string{"--origin", "open.example", filepath.Join(dir, "open.example.zone")}, "", exitErrors, "open.example.zone:5: error"},
		{"standard input without --origin", []string{"-"}, permissive, exitUsage, "needs --origin"},
		{"an origin that is no zone name", []string{"--origin", "../x", "-"}, permissive, exitUsage, "is not a zone name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runCheck(tc.args, strings.NewReader(tc.stdin), &out, &errOut)
			if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.want) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s%s", code, tc.code, tc.want, out.String(), errOut.String())
			}
		})
	}
}

func TestCheckConf(t *testing.T) {
	dir := t.TempDir()
	head := "$TTL 3600\n@ SOA ns1.example.net. h.example.net. 1 7200 3600 1209600 300\n@ NS ns1.example.net.\n"
	for name, text := range map[string]string{
		"open.example.zone": head + "@ MX 10 mx1.example.net.\n@ TXT \"v=spf1 mx +all\"\n",
		"big.example.zone":  head + "a A 192.0.2.1\nb A 192.0.2.2\nc A 192.0.2.3\nd A 192.0.2.4\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	corefile := func(t *testing.T, body string) string {
		path := filepath.Join(t.TempDir(), "Corefile")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := corefile(t, ".:1053 {\n    errors\n    mxzone "+dir+" {\n        spf_permissive warn\n        max_records 5\n    }\n}\n")
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"severities and limits from the Corefile", []string{"--conf", good, dir}, exitErrors, []string{
			"warning: open.example.: SPF record: \"+all\"", "big.example.zone:7: error: big.example.: zone has more than the limit of 5 records"}},
		{"--rule over --conf", []string{"--rule", "spf_permissive=fail", "--conf", good, dir}, exitErrors, []string{
			"error: open.example.: SPF record: \"+all\""}},
		{"an unknown property, with its Corefile line", []string{"--conf", corefile(t, ".:1053 {\n    mxzone "+dir+" {\n        spf_permisive warn\n    }\n}\n"), dir},
			exitUsage, []string{"Corefile:3", `unknown property "spf_permisive"`}},
		{"no mxzone block", []string{"--conf", corefile(t, ".:1053 {\n    whoami\n}\n"), dir}, exitUsage, []string{"no mxzone block"}},
		{"two mxzone blocks", []string{"--conf", corefile(t, ".:1053 {\n    mxzone "+dir+"\n}\n.:1054 {\n    mxzone "+dir+"\n}\n"), dir},
			exitUsage, []string{"more than one server block"}},
		{"a missing Corefile", []string{"--conf", filepath.Join(dir, "nope"), dir}, exitUsage, []string{"no such file"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runCheck(tc.args, nil, &out, &errOut)
			text := out.String() + errOut.String()
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Fatalf("output lacks %q:\n%s", w, text)
				}
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.code, text)
			}
		})
	}
}

func TestCheckZonesEdit(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("../../zones", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	customer, provider := read("example.org.zone"), read("example.net.zone")
	noSPF := strings.Replace(provider, "_spf    IN TXT", "; _spf    IN TXT", 1)
	noSPF = strings.Replace(noSPF, `IN TXT  "v=spf1 include:_spf.example.net -all"`, `IN TXT  "v=spf1 ip4:192.0.2.25 -all"`, 1)
	conf := filepath.Join(t.TempDir(), "Corefile")
	if err := os.WriteFile(conf, []byte(".:1053 {\n    mxzone ../../zones {\n        protect example.net\n    }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		stdin   string
		code    int
		want    []string
		notWant []string
	}{
		{"a valid customer edit", []string{"--zones", "../../zones", "--origin", "example.org", "-"}, customer + "www2 IN A 192.0.2.82\n",
			exitClean, []string{"1 zone files checked: 1 would be served, 0 refused; 0 errors"}, []string{"shop.example", "example.com"}},
		{"a customer edit with two SPF records", []string{"--zones", "../../zones", "--origin", "example.org", "-"},
			customer + "@ IN TXT \"v=spf1 -all\"\n", exitErrors, []string{"-:19: error: example.org.: second SPF record"}, nil},
		{"a customer MX at a host the provider does not have", []string{"--zones", "../../zones", "--origin", "example.org", "-"},
			strings.Replace(customer, "MX   20 mx2.example.net.", "MX   20 mx3.example.net.", 1), exitErrors,
			[]string{"-:10: error: example.org.: exchange mx3.example.net. does not exist in zone example.net."}, nil},
		{"a protected provider edit that breaks a customer is refused", []string{"--conf", conf, "--zones", "../../zones", "--origin", "example.net", "-"},
			noSPF, exitErrors, []string{"-:0: error: example.org.: edit refused: zone example.org. depends on it", "0 would be served, 1 refused"}, nil},
		{"the same edit of an unprotected zone stands and breaks the customer", []string{"--zones", "../../zones", "--origin", "example.net", "-"},
			noSPF, exitErrors, []string{"example.org.zone:11: error: example.org.: after this edit of example.net.: SPF record: include:_spf.example.net names _spf.example.net., which does not exist",
				"1 would be served, 0 refused"}, nil},
		{"--zones with two files", []string{"--zones", "../../zones", "a.zone", "b.zone"}, "", exitUsage, []string{"takes one FILE"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runCheck(tc.args, strings.NewReader(tc.stdin), &out, &errOut)
			text := out.String() + errOut.String()
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Fatalf("output lacks %q:\n%s", w, text)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(text, w) {
					t.Fatalf("output reports %q, which the edit does not cause:\n%s", w, text)
				}
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.code, text)
			}
		})
	}
}
