package mxzone

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
)

func TestParse(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		input   string
		wantErr string
	}{
		{"directory only", "mxzone " + dir, ""},
		{"with zones", "mxzone " + dir + " example.org example.net", ""},
		{"all properties", "mxzone " + dir + " {\n reload 10s\n fallthrough\n mx_target_cname warn\n null_mx ignore\n}", ""},
		{"reload off", "mxzone " + dir + " {\n reload 0\n}", ""},
		{"status", "mxzone " + dir + " {\n status 127.0.0.1:8053\n}", ""},
		{"status without a port", "mxzone " + dir + " {\n status 127.0.0.1\n}", "is not HOST:PORT"},
		{"status without an address", "mxzone " + dir + " {\n status\n}", "Wrong argument count"},
		{"state", "mxzone " + dir + " {\n state " + t.TempDir() + "/state\n}", ""},
		{"state is a file", "mxzone " + dir + " {\n state /etc/hostname\n}", "not a directory"},
		{"state is the zone directory", "mxzone " + dir + " {\n state " + dir + "\n}", "use a directory of its own"},
		{"limits", "mxzone " + dir + " {\n max_file_size 8M\n max_records 5000\n max_zones 100\n}", ""},
		{"bad size", "mxzone " + dir + " {\n max_file_size lots\n}", "not a size"},
		{"zero records", "mxzone " + dir + " {\n max_records 0\n}", "not a positive number"},
		{"zero names", "mxzone " + dir + " {\n max_names 0\n}", "not a positive number"},
		{"protect", "mxzone " + dir + " {\n protect example.net provider.example.\n}", ""},
		{"protect nothing", "mxzone " + dir + " {\n protect\n}", "Wrong argument count"},
		{"includes", "mxzone " + dir + " {\n includes fragments/ *.inc\n}", ""},
		{"includes outside", "mxzone " + dir + " {\n includes ../secrets/*\n}", "not a pattern of files inside"},
		{"includes bad pattern", "mxzone " + dir + " {\n includes [a-\n}", "not a pattern of files inside"},
		{"public suffixes allowed", "mxzone " + dir + " {\n allow_public_suffix com. CO.UK\n}", ""},
		{"public suffix without a name", "mxzone " + dir + " {\n allow_public_suffix\n}", "Wrong argument count"},
		{"public suffix not a name", "mxzone " + dir + " {\n allow_public_suffix a..b\n}", "not a domain name"},
		{"no directory", "mxzone", "Wrong argument count"},
		{"missing directory", "mxzone /nonexistent/zones", "no such file"},
		{"not a directory", "mxzone /etc/hostname", "not a directory"},
		{"bad duration", "mxzone " + dir + " {\n reload soon\n}", "not a duration"},
		{"negative duration", "mxzone " + dir + " {\n reload -1s\n}", "negative"},
		{"unknown property", "mxzone " + dir + " {\n colour blue\n}", `unknown property "colour"`},
		{"unknown severity", "mxzone " + dir + " {\n mx_target_cname maybe\n}", `unknown severity "maybe"`},
		{"severity missing", "mxzone " + dir + " {\n null_mx\n}", "takes one of fail, warn or ignore"},
		{"syntax is not configurable", "mxzone " + dir + " {\n syntax ignore\n}", `unknown property "syntax"`},
		{"property twice", "mxzone " + dir + " {\n reload 1s\n reload 2s\n}", "set twice"},
		{"catalog", "mxzone " + dir + " {\n catalog catalog.invalid.\n}", ""},
		{"catalog without final dot", "mxzone " + dir + " {\n catalog catalog.invalid\n}", "with a final dot"},
		{"catalog not a name", "mxzone " + dir + " {\n catalog a..b.\n}", "not a domain name"},
		{"catalog outside the zones", "mxzone " + dir + " example.org {\n catalog catalog.invalid.\n}", "outside the zones"},
		{"catalog without a name", "mxzone " + dir + " {\n catalog\n}", "Wrong argument count"},
		{"twice in a block", "mxzone " + dir + "\nmxzone " + dir, "once per server block"},
		{"dnssec", "mxzone " + dir + " {\n state " + t.TempDir() + "\n dnssec\n}", ""},
		{"update", "mxzone " + dir + " {\n state " + t.TempDir() + "\n update " + t.TempDir() + "\n reload 5s\n}", ""},
		{"update block", "mxzone " + dir + " {\n update " + t.TempDir() + " {\n journal_size 4M\n serial unixtime\n }\n state " + t.TempDir() + "\n}", ""},
		{"update without state", "mxzone " + dir + " {\n update " + t.TempDir() + "\n}", "update needs a state directory"},
		{"update policy inside the zones", "mxzone " + dir + " {\n state " + t.TempDir() + "\n update " + dir + "\n}", "inside the zone directory"},
		{"update policy missing", "mxzone " + dir + " {\n state " + t.TempDir() + "\n update /nonexistent\n}", "not a directory"},
		{"update journal too small", "mxzone " + dir + " {\n state " + t.TempDir() + "\n update " + t.TempDir() + " {\n journal_size 1K\n }\n}", "64KiB to 1GiB"},
		{"update bad serial policy", "mxzone " + dir + " {\n state " + t.TempDir() + "\n update " + t.TempDir() + " {\n serial dateserial\n }\n}", "not increment or unixtime"},
		{"update unknown property", "mxzone " + dir + " {\n state " + t.TempDir() + "\n update " + t.TempDir() + " {\n keys k\n }\n}", `update: unknown property "keys"`},
		{"update unclosed", "mxzone " + dir + " {\n state " + t.TempDir() + "\n update " + t.TempDir() + " {\n serial increment\n", "not closed"},
		{"dnssec block", "mxzone " + dir + " {\n state " + t.TempDir() + "\n dnssec ed25519 {\n nsec3\n signature_validity 21d\n zones example.org\n }\n reload 5s\n}", ""},
		{"dnssec without state", "mxzone " + dir + " {\n dnssec\n}", "needs a state directory"},
		{"dnssec state inside the zones", "mxzone " + dir + " {\n state " + dir + "/state\n dnssec\n}", "inside the zone directory"},
		{"dnssec algorithm", "mxzone " + dir + " {\n state " + t.TempDir() + "\n dnssec rsasha1\n}", `algorithm "rsasha1" is not supported`},
		{"dnssec nsec and nsec3", "mxzone " + dir + " {\n state " + t.TempDir() + "\n dnssec {\n nsec\n nsec3\n }\n}", "set twice"},
		{"dnssec nsec3 salt", "mxzone " + dir + " {\n state " + t.TempDir() + "\n dnssec {\n nsec3 1 0 aabb\n }\n}", "takes no arguments"},
		{"dnssec short validity", "mxzone " + dir + " {\n state " + t.TempDir() + "\n dnssec {\n signature_validity 10m\n }\n}", "at least 1h"},
		{"dnssec bad validity", "mxzone " + dir + " {\n state " + t.TempDir() + "\n dnssec {\n signature_validity forever\n }\n}", "not a duration"},
		{"dnssec zones empty", "mxzone " + dir + " {\n state " + t.TempDir() + "\n dnssec {\n zones\n }\n}", "Wrong argument count"},
		{"dnssec unknown", "mxzone " + dir + " {\n state " + t.TempDir() + "\n dnssec {\n nsec5\n }\n}", `unknown property "nsec5"`},
		{"dnssec not closed", "mxzone " + dir + " {\n state " + t.TempDir() + "\n dnssec {\n nsec\n", "not closed"},
		{"dnssec rollover policy", "mxzone " + dir + " {\n state " + t.TempDir() + "\n dnssec {\n keys split\n ksk_lifetime 365d\n zsk_lifetime 30d\n propagation_delay 0s\n parent_ds_ttl 1d\n parent_servers 192.0.2.1 [2001:db8::1]:5353\n parent_check_interval 5m\n no_child_ds shop.example.org\n }\n}", ""},
		{"dnssec keys", "mxzone " + dir + " {\n state " + t.TempDir() + "\n dnssec {\n keys ksk\n }\n}", "keys takes csk"},
		{"dnssec short lifetime", "mxzone " + dir + " {\n state " + t.TempDir() + "\n dnssec {\n zsk_lifetime 10m\n }\n}", "at least 1h"},
		{"dnssec parent server", "mxzone " + dir + " {\n state " + t.TempDir() + "\n dnssec {\n parent_servers ns1.example.org\n }\n}", "is not an address"},
		{"dnssec no_child_ds", "mxzone " + dir + " {\n state " + t.TempDir() + "\n dnssec {\n no_child_ds a..b\n }\n}", "not a domain name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := caddy.NewTestController("dns", tc.input)
			m, err := parse(c)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one containing %q (got %+v)", tc.wantErr, m)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), "Testfile:") {
				t.Fatalf("error %q does not name the Corefile line", err)
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	dir := t.TempDir()
	c := caddy.NewTestController("dns", "mxzone "+dir+" example.org {\n reload 10s\n fallthrough example.org\n mx_target_address warn\n}")
	m, err := parse(c)
	if err != nil {
		t.Fatal(err)
	}
	if m.interval != 10*time.Second {
		t.Errorf("interval %v", m.interval)
	}
	if len(m.Origins) != 1 || m.Origins[0] != "example.org." {
		t.Errorf("origins %v", m.Origins)
	}
	if !m.Fall.Through("x.example.org.") || m.Fall.Through("x.example.net.") {
		t.Errorf("fallthrough %v", m.Fall)
	}
	if m.loader.policy.Rules[RuleMXAddress] != SeverityWarn || m.loader.policy.Rules[RuleMXCNAME] != SeverityFail {
		t.Errorf("policy %v", m.loader.policy)
	}
	if m.loader.dir != dir {
		t.Errorf("dir %q, want %q", m.loader.dir, dir)
	}
}

func TestParseRelativeToRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "zones"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := caddy.NewTestController("dns", "mxzone zones")
	dnsserver.GetConfig(c).Root = root
	m, err := parse(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "zones"); m.loader.dir != want {
		t.Fatalf("dir %q, want %q", m.loader.dir, want)
	}
}

func TestParseLimits(t *testing.T) {
	c := caddy.NewTestController("dns", "mxzone "+t.TempDir()+
		" {\n max_file_size 8M\n max_records 5000\n max_zones 100\n max_rrset_records 50000\n max_types_per_name 20\n max_names 1000\n}")
	m, err := parse(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Limits{FileBytes: 8 << 20, Records: 5000, Zones: 100, RRsetRecords: 50000, TypesPerName: 20, Names: 1000}); m.loader.limits != want {
		t.Fatalf("limits %+v, want %+v", m.loader.limits, want)
	}
}

// status ADDRESS: a host is taken as written; without one, the server
// block's bind addresses, or 127.0.0.1, never every interface.
func TestParseStatusAddress(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		addr  string
		binds []string
		want  []string
	}{
		{"127.0.0.1:8053", nil, []string{"127.0.0.1:8053"}},
		{"[::1]:8053", []string{"192.0.2.1"}, []string{"[::1]:8053"}},
		{":8053", nil, []string{"127.0.0.1:8053"}},
		{":8053", []string{"192.0.2.1", "::1"}, []string{"192.0.2.1:8053", "[::1]:8053"}},
	} {
		c := caddy.NewTestController("dns", "mxzone "+dir+" {\n status "+tc.addr+"\n}")
		dnsserver.GetConfig(c).ListenHosts = tc.binds
		m, err := parse(c)
		if err != nil {
			t.Fatalf("%s: %v", tc.addr, err)
		}
		if !slices.Equal(m.status.addrs, tc.want) {
			t.Errorf("status %s with bind %v: listens on %v, want %v", tc.addr, tc.binds, m.status.addrs, tc.want)
		}
	}
	c := caddy.NewTestController("dns", "mxzone "+dir+" {\n status 127.0.0.1:8053 {\n token "+filepath.Join(dir, "none")+"\n }\n}")
	if _, err := parse(c); err == nil {
		t.Error("a missing token file is accepted")
	}
}
