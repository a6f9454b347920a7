package mxzone

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

var churn = flag.Bool("churn", false, "run TestReloadChurnHeap (about 40 s)")

// TestReloadChurnHeap edits 6,000 times (valid edits, broken edits, deletes
// and re-adds) among 2,000 zones and checks that the live heap levels off:
// nothing is kept per edit. Behind -churn: it takes about 40 s.
//
//	go test ./plugin/mxzone -run TestReloadChurnHeap -churn -v
func TestReloadChurnHeap(t *testing.T) {
	if !*churn {
		t.Skip("long: run with -churn")
	}
	files := map[string]string{"example.net.zone": provider}
	for i := range 2000 {
		o := fmt.Sprintf("c%d.example.", i)
		files[o+"zone"] = customer(o, "1", "www A 192.0.2.1")
	}
	dir := writeZones(t, files)
	m := newTestPlugin(t, dir, DefaultPolicy())
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	var rounds []uint64
	for round := range 6 {
		for i := range 1000 {
			o := fmt.Sprintf("c%d.example.", (i*7+round)%2000)
			name := o + "zone"
			switch i % 4 {
			case 0, 1:
				writeFile(t, dir, name, customer(o, fmt.Sprint(round*1000+i+2), fmt.Sprintf("www A 192.0.2.%d", i%250)))
			case 2:
				writeFile(t, dir, name, customer(o, fmt.Sprint(round*1000+i+2), "@ MX 10 alias.example.net."))
			case 3:
				os.Remove(filepath.Join(dir, name))
				m.reloadNames([]string{name})
				writeFile(t, dir, name, customer(o, fmt.Sprint(round*1000+i+2)))
			}
			bumpMtime(t, filepath.Join(dir, name), time.Duration(round*1000+i)*time.Millisecond)
			m.reloadNames([]string{name})
		}
		rounds = append(rounds, heap())
		t.Logf("after %d edits: heap in use %d KiB", (round+1)*1000, rounds[round]/1024)
	}
	if last, mid := rounds[5], rounds[2]; float64(last) > 1.1*float64(mid) {
		t.Fatalf("heap grew from %d KiB after 3,000 edits to %d KiB after 6,000", mid/1024, last/1024)
	}
}
