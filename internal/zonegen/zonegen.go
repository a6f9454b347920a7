// Package zonegen writes directories of synthetic customer zones for the
// benchmarks and load scripts: each zone has about 12 records, the shape of a
// typical hosted domain (SOA, 2 NS, 2 MX, the mail hosts with A and AAAA,
// www, SPF and DMARC TXT).
package zonegen

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// Origin is the name of zone i.
func Origin(i int) string { return fmt.Sprintf("customer%d.example.", i) }

// Zone returns the text of one customer zone.
func Zone(origin string) string {
	return fmt.Sprintf(`$TTL 3600
@       SOA   ns1.provider.example. hostmaster.%[1]s 1 7200 3600 1209600 300
@       NS    ns1.provider.example.
@       NS    ns2.provider.example.
@       MX    10 mx1
@       MX    20 mx2
mx1     A     192.0.2.25
mx1     AAAA  2001:db8::25
mx2     A     198.51.100.25
mx2     AAAA  2001:db8:1::25
www     A     192.0.2.80
@       TXT   "v=spf1 mx -all"
_dmarc  TXT   "v=DMARC1; p=reject"
`, origin)
}

// Records is the number of records in each generated zone.
const Records = 12

// Write creates n zones, customer0.example. to customer<n-1>.example., as
// ORIGIN.zone files in dir.
func Write(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, runtime.NumCPU())
	next := make(chan int)
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				origin := Origin(i)
				if err := os.WriteFile(filepath.Join(dir, origin+"zone"), []byte(Zone(origin)), 0o644); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
loop:
	for i := range n {
		select {
		case next <- i:
		case err = <-errs:
			break loop
		}
	}
	close(next)
	wg.Wait()
	if err == nil && len(errs) > 0 {
		err = <-errs
	}
	return err
}
