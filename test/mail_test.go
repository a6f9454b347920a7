package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestMailEditsThroughTheBinary: the running server refuses a customer's
// edit with two SPF records and keeps the last good version answering;
// refuses an edit of the provider's protected zone that breaks a customer's
// SPF include, naming the customer; and serves the fixed versions.
func TestMailEditsThroughTheBinary(t *testing.T) {
	dig := requireTool(t, "dig")
	dir := copyDir(t, "../zones")
	s := startServer(t, dir, "reload 1h\n        protect example.net.")
	port := strings.Split(s.addr, ":")[1]
	refusedSeries := `coredns_mxzone_reloads_total{result="refused",server="dns://127.0.0.1:` + port + `"}`
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	txt := func(name string) string {
		out, err := exec.Command(dig, "@127.0.0.1", "-p", port, name, "TXT", "+short", "+norec").CombinedOutput()
		if err != nil {
			t.Fatalf("dig: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	refusedAfter := func(what string, before float64) {
		t.Helper()
		waitFor(t, 10*time.Second, what, func() bool { return s.metric(t, refusedSeries) > before })
	}
	customer, provider := read("example.org.zone"), read("example.net.zone")
	if got := txt("example.org"); got != `"v=spf1 include:_spf.example.net -all"` {
		t.Fatalf("example.org TXT before the edits: %q", got)
	}

	// A customer pastes a second SPF record: refused, the last good version answers.
	before := s.metric(t, refusedSeries)
	twoSPF := strings.Replace(customer, "2026113001", "2026113002", 1) + "@ IN TXT \"v=spf1 include:mail.other.example ~all\"\n"
	writeAtomic(t, filepath.Join(dir, "example.org.zone"), twoSPF)
	refusedAfter("the edit with two SPF records to be refused", before)
	if got := txt("example.org"); got != `"v=spf1 include:_spf.example.net -all"` {
		t.Fatalf("example.org TXT after the refused edit: %q, want the last good record alone", got)
	}
	lines := strings.Count(twoSPF, "\n")
	if want := "example.org.zone:" + strconv.Itoa(lines) + ": error: example.org.: second SPF record at this name (first at line 11)"; !strings.Contains(s.log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, s.log)
	}

	// The provider drops the record its customers include: refused, naming them.
	before = s.metric(t, refusedSeries)
	noInclude := strings.Replace(provider, "2026113001", "2026113002", 1)
	noInclude = strings.Replace(noInclude, `IN TXT  "v=spf1 include:_spf.example.net -all"`, `IN TXT  "v=spf1 ip4:192.0.2.25 -all"`, 1)
	noInclude = strings.Replace(noInclude, "_spf    IN TXT", "; _spf    IN TXT", 1)
	writeAtomic(t, filepath.Join(dir, "example.net.zone"), noInclude)
	refusedAfter("the provider edit that breaks a customer's include to be refused", before)
	if got := txt("_spf.example.net"); !strings.HasPrefix(got, `"v=spf1 ip4:192.0.2.25`) {
		t.Fatalf("_spf.example.net after the refused provider edit: %q", got)
	}
	if want := "edit refused: zone example.org. depends on it"; !strings.Contains(s.log.String(), want) ||
		!strings.Contains(s.log.String(), "include:_spf.example.net names _spf.example.net., which does not exist in zone example.net.") {
		t.Errorf("log lacks %q with the customer's finding:\n%s", want, s.log)
	}

	// Fixed versions are served.
	fixed := strings.Replace(provider, "2026113001", "2026113003", 1) + "www     IN A    192.0.2.80\n"
	writeAtomic(t, filepath.Join(dir, "example.net.zone"), fixed)
	waitFor(t, 10*time.Second, "the fixed provider edit to be served", func() bool {
		return len(ask(t, s.addr, "udp", "www.example.net.", dns.TypeA).Answer) == 1
	})
	oneSPF := strings.Replace(customer, "2026113001", "2026113004", 1)
	oneSPF = strings.Replace(oneSPF, "include:_spf.example.net -all", "include:_spf.example.net ~all", 1)
	writeAtomic(t, filepath.Join(dir, "example.org.zone"), oneSPF)
	waitFor(t, 10*time.Second, "the fixed customer edit to be served", func() bool {
		return txt("example.org") == `"v=spf1 include:_spf.example.net ~all"`
	})
}
