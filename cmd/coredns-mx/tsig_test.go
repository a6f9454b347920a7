package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/update"

	"github.com/miekg/dns"
)

// TestTsigCommand: what "coredns-mx tsig" prints pastes into a policy file
// as it is, and the client lines carry the same secret.
func TestTsigCommand(t *testing.T) {
	var out, errs bytes.Buffer
	if code := runTsig([]string{"--algorithm", "hmac-sha512", "Example.COM", "panel.example.com"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	p, err := update.ParsePolicy("example.com.conf", "example.com.", out.Bytes())
	if err != nil {
		t.Fatalf("the output is no policy file: %v\n%s", err, out.String())
	}
	k := p.Key("panel.example.com")
	if k == nil || k.Algorithm != dns.HmacSHA512 {
		t.Fatalf("key %+v", p.Keys)
	}
	if !p.Allows("panel.example.com.", "_acme-challenge.example.com.", dns.TypeTXT) || p.Allows("panel.example.com.", "www.example.com.", dns.TypeTXT) {
		t.Error("the grant is not the _acme-challenge TXT one")
	}
	if !strings.Contains(out.String(), "nsupdate -y hmac-sha512:panel.example.com:"+k.Secret+"\n") ||
		!strings.Contains(out.String(), "RFC2136_TSIG_SECRET="+k.Secret) {
		t.Errorf("client lines do not carry the secret:\n%s", out.String())
	}
	var again bytes.Buffer
	runTsig([]string{"example.com"}, &again, &errs)
	if p2, _ := update.ParsePolicy("f", "example.com.", again.Bytes()); p2 == nil || p2.Key("acme.example.com") == nil || p2.Keys[0].Secret == k.Secret {
		t.Errorf("the default key name, or a fresh secret: %s", again.String())
	}
	for _, bad := range [][]string{{}, {"example.com", "k", "x"}, {"--algorithm", "hmac-md5", "example.com"}, {"--grant", "RRSIG", "example.com"}} {
		if code := runTsig(bad, &out, &errs); code != exitUsage {
			t.Errorf("tsig %q: exit %d, want %d", bad, code, exitUsage)
		}
	}
}
