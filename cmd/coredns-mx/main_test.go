package main

import (
	"bytes"
	"encoding/json"
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
		"acl", "any", "chaos", "whoami", "loadbalance", "transfer", "dnssec", "tsig", "file", "auto", "secondary", "mxzone"} {
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
	for _, after := range []string{"file", "auto", "secondary", "whoami"} {
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
	if code := runCheck([]string{"../../zones"}, &out, &errOut); code != exitClean {
		t.Fatalf("shipped zones: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if code := runCheck(nil, &out, &errOut); code != exitUsage {
		t.Fatalf("no paths: exit %d", code)
	}
	if code := runCheck([]string{"--format", "yaml", "../../zones"}, &out, &errOut); code != exitUsage {
		t.Fatalf("bad format: exit %d", code)
	}
}

// TestCheckMailMistakes: the README's example, one mistake of each mail
// family checked together with the shipped zones, is caught rule by rule.
func TestCheckMailMistakes(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runCheck([]string{"--format", "json", "../../zones", "testdata/mistakes"}, &out, &errOut); code != exitErrors {
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
