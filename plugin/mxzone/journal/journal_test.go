package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func txt(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(fmt.Sprintf(`_acme-challenge.example.com. 60 IN TXT %q`, s))
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func step(t *testing.T, from uint32, add string) *Step {
	return &Step{From: from, To: from + 1, Time: time.Unix(1700000000, 0), Key: "acme.", Add: []dns.RR{txt(t, add)}}
}

func TestAppendReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "example.com.jnl")
	j, rep, err := Open(path, 1<<20)
	if err != nil || rep.Steps != 0 || rep.Dropped != 0 {
		t.Fatalf("open: %v %+v", err, rep)
	}
	for i := range uint32(5) {
		d := &Delta{Serial: 11 + i, Digest: [32]byte{1}, Add: []dns.RR{txt(t, fmt.Sprint(i))}}
		if err := j.Append(step(t, 10+i, fmt.Sprint(i)), d, true); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	j, rep, err = Open(path, 1<<20)
	if err != nil || rep.Steps != 5 || rep.Dropped != 0 {
		t.Fatalf("reopen: %v %+v", err, rep)
	}
	defer j.Close()
	if first, last, ok := j.Range(); !ok || first != 10 || last != 15 {
		t.Fatalf("range %d-%d %v", first, last, ok)
	}
	steps, ok := j.Since(12)
	if !ok || len(steps) != 3 || steps[0].From != 12 || steps[2].To != 15 || steps[0].Key != "acme." {
		t.Fatalf("since 12: %v %+v", ok, steps)
	}
	if got := steps[0].Add[0].(*dns.TXT).Txt[0]; got != "2" {
		t.Fatalf("step 12 adds %q", got)
	}
	if _, ok := j.Since(9); ok {
		t.Fatal("serial 9 is not held, yet Since says it is")
	}
	if d := j.Delta(); d == nil || d.Digest != [32]byte{1} || d.Serial != 15 || d.Add[0].(*dns.TXT).Txt[0] != "4" {
		t.Fatalf("delta %+v", d)
	}
}

// TestTornTail cuts the file at every byte of its last record: the records
// before it always replay, the torn one never half.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "z.jnl")
	j, _, err := Open(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(step(t, 1, "a"), &Delta{Add: []dns.RR{txt(t, "a")}}, true); err != nil {
		t.Fatal(err)
	}
	good := j.Size()
	if err := j.Append(step(t, 2, "b"), &Delta{Add: []dns.RR{txt(t, "a"), txt(t, "b")}}, true); err != nil {
		t.Fatal(err)
	}
	j.Close()
	whole, _ := os.ReadFile(path)
	for cut := int(good) + 1; cut < len(whole); cut++ {
		os.WriteFile(path, whole[:cut], 0o600)
		j, rep, err := Open(path, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		// The second change is there whole or not at all: its step never
		// without its delta.
		if d := j.Delta(); d == nil || len(d.Add) != 1 || rep.Dropped == 0 || rep.Steps != 1 {
			t.Fatalf("cut at %d: delta %+v, dropped %d", cut, d, rep.Dropped)
		}
		if st, _ := os.Stat(path); st.Size() != j.Size() {
			t.Fatalf("cut at %d: file not truncated to %d", cut, j.Size())
		}
		j.Close()
	}
	// A flipped byte in the last record is damage too.
	bad := append([]byte(nil), whole...)
	bad[len(bad)-3] ^= 0xff
	os.WriteFile(path, bad, 0o600)
	j, rep, err := Open(path, 1<<20)
	if err != nil || rep.Dropped == 0 || len(j.Delta().Add) != 1 {
		t.Fatalf("damaged: %v %+v", err, rep)
	}
	j.Close()
}

func TestCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "z.jnl")
	const limit = 64 << 10
	j, _, err := Open(path, limit)
	if err != nil {
		t.Fatal(err)
	}
	var d Delta
	for i := range uint32(2000) {
		d.Add = []dns.RR{txt(t, fmt.Sprintf("token-%d", i))}
		if err := j.Append(step(t, i, fmt.Sprintf("token-%d", i)), &d, true); err != nil {
			t.Fatal(err)
		}
		if j.Size() > limit {
			t.Fatalf("after %d appends the journal holds %d bytes, over its %d", i, j.Size(), limit)
		}
	}
	first, last, _ := j.Range()
	if last != 2000 || first == 0 {
		t.Fatalf("range %d-%d: the oldest steps should be gone, the newest kept", first, last)
	}
	j.Close()
	j, rep, err := Open(path, limit)
	if err != nil || rep.Dropped != 0 {
		t.Fatal(err, rep)
	}
	defer j.Close()
	if got := j.Delta().Add[0].(*dns.TXT).Txt[0]; got != "token-1999" {
		t.Fatalf("delta after compaction: %q", got)
	}
	if f2, l2, _ := j.Range(); f2 != first || l2 != last {
		t.Fatalf("range after reopen %d-%d, was %d-%d", f2, l2, first, last)
	}
}

func TestGapStartsAfresh(t *testing.T) {
	j, _, err := Open(filepath.Join(t.TempDir(), "z.jnl"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	j.Append(step(t, 1, "a"), nil, true)
	j.Append(step(t, 5, "b"), nil, false) // the zone went from 2 to 5 some other way
	if first, last, _ := j.Range(); first != 5 || last != 6 {
		t.Fatalf("range %d-%d", first, last)
	}
	if _, ok := j.Since(1); ok {
		t.Fatal("a step across the gap was handed out")
	}
}

func TestTooLarge(t *testing.T) {
	j, _, err := Open(filepath.Join(t.TempDir(), "z.jnl"), 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	s := &Step{From: 1, To: 2}
	for i := range 3000 {
		s.Add = append(s.Add, txt(t, fmt.Sprintf("%030d", i)))
	}
	if err := j.Append(s, nil, true); err != ErrTooLarge {
		t.Fatalf("err %v", err)
	}
	if j.Size() != 0 {
		t.Fatal("a refused change was written")
	}
}

func FuzzReplay(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.jnl")
	j, _, _ := Open(path, 1<<20)
	rr, _ := dns.NewRR(`a.example. 60 IN TXT "x"`)
	j.Append(&Step{From: 1, To: 2, Add: []dns.RR{rr}}, &Delta{Add: []dns.RR{rr}}, true)
	j.Close()
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "f.jnl")
		os.WriteFile(p, data, 0o600)
		j, rep, err := Open(p, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if j.Size()+rep.Dropped != int64(len(data)) {
			t.Fatalf("kept %d + dropped %d != %d", j.Size(), rep.Dropped, len(data))
		}
		if first, _, ok := j.Range(); ok {
			j.Since(first)
		}
		j.Close()
	})
}
