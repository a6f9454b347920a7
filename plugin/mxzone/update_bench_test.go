package mxzone

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/update"

	"github.com/miekg/dns"
)

// BenchmarkUpdate is one UPDATE (an add or a delete of one TXT, as ACME
// clients send) applied to a zone of N records: checked, signed with
// dnssec, written to the journal and synced, published. bench/update.sh
// measures the same through the binary, beside Knot DNS.
func BenchmarkUpdate(b *testing.B) {
	for _, signed := range []bool{false, true} {
		for _, n := range []int{10, 10000, 100000} {
			b.Run(fmt.Sprintf("signed=%v/records=%d", signed, n), func(b *testing.B) {
				var body strings.Builder
				for i := range n - 4 {
					fmt.Fprintf(&body, "h%d A 10.%d.%d.%d\n", i, i>>16&255, i>>8&255, i&255)
				}
				dir := b.TempDir()
				writeFile(b, dir, "example.com.zone", soaZone("example.com.", body.String()))
				state := b.TempDir()
				var m *MXZone
				if signed {
					m = newSignedPlugin(b, dir, state, false)
				} else {
					m = newTestPlugin(b, dir, DefaultPolicy())
					m.state = &stateDir{dir: state}
				}
				pol, err := update.ParsePolicy("p", "example.com.", []byte(`key k { algorithm hmac-sha256; secret "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgMTIzNA=="; };
grant k zonesub TXT;`))
				if err != nil {
					b.Fatal(err)
				}
				m.updates = &updater{journals: filepath.Join(state, "journal"), journalSize: defaultJournalSize,
					policies: map[string]*update.Policy{"example.com.": pol}, zones: map[string]*dynZone{}}
				m.updates.commit = newGroupCommit(m.updates.journals)
				m.loader.dynamic = m.updates
				m.updates.openJournals()
				b.ResetTimer()
				for i := range b.N {
					req := new(dns.Msg)
					req.SetUpdate("example.com.")
					rr := &dns.TXT{Hdr: dns.RR_Header{Name: "_acme-challenge.example.com.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{"token"}}
					if i%2 == 0 {
						req.Insert([]dns.RR{rr})
					} else {
						req.Remove([]dns.RR{rr})
					}
					wire, _ := req.Pack()
					req.Unpack(wire)
					applied, err := m.applyUpdate("example.com.", "k.", req, pol)
					if err != nil || applied == nil {
						b.Fatalf("update %d: %v", i, err)
					}
					if err := m.updates.syncJournal(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
