package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func writeN(t *testing.T, path string, n int) {
	t.Helper()
	err := Write(path, Header{Covers: 7, Source: "/zones", Settings: "s1"}, func(add func([]byte) error) error {
		for i := range n {
			if err := add(fmt.Appendf(nil, "record %d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWriteOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snapshot")
	writeN(t, path, 1000)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Header.Covers != 7 || s.Header.Source != "/zones" || s.Header.Settings != "s1" || s.Header.Records != 1000 {
		t.Errorf("header %+v", s.Header)
	}
	if len(s.Records) != 1000 || s.Damaged != 0 {
		t.Fatalf("%d records, %d damaged", len(s.Records), s.Damaged)
	}
	if string(s.Records[999]) != "record 999" {
		t.Errorf("last record %q", s.Records[999])
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snapshot")
	writeN(t, path, 3)
	data, _ := os.ReadFile(path)
	tests := []struct {
		name    string
		data    []byte
		damaged int   // records left out
		err     error // or the whole file refused
	}{
		{"a flipped byte in a record", bytes.Replace(data, []byte("record 1"), []byte("recorD 1"), 1), 1, nil},
		{"cut short", data[:len(data)-3], 0, ErrFormat},
		{"without the end mark", data[:len(data)-4], 0, ErrFormat},
		{"another format", append([]byte("MXSNAP9\n"), data[8:]...), 0, ErrFormat},
		{"trailing bytes", append(bytes.Clone(data), 0), 0, ErrFormat},
		{"empty", nil, 0, ErrFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "snapshot")
			os.WriteFile(p, tc.data, 0o600)
			s, err := Open(p)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Damaged != tc.damaged || len(s.Records) != 3-tc.damaged {
				t.Errorf("%d records, %d damaged", len(s.Records), s.Damaged)
			}
		})
	}
}

func TestMarks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "marks")
	m, err := OpenMarks(path)
	if err != nil {
		t.Fatal(err)
	}
	m.Mark("a.example.", "b.example.")
	covers := m.Seq()
	m.Mark("c.example.")
	m.Mark("odd \"name\"\n.")
	if m.Stale("a.example.", covers) || !m.Stale("c.example.", covers) || m.Stale("z.example.", 0) {
		t.Errorf("stale: a %v c %v z %v", m.Stale("a.example.", covers), m.Stale("c.example.", covers), m.Stale("z.example.", 0))
	}
	if err := m.Compact(covers); err != nil {
		t.Fatal(err)
	}
	m.Close()
	// A torn last line, as a crash leaves it.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`99 "d.exam`)
	f.Close()
	m, err = OpenMarks(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !m.Stale("c.example.", covers) || !m.Stale("odd \"name\"\n.", covers) || m.Stale("a.example.", covers) || m.Stale("d.example.", covers) {
		t.Errorf("after reopening: c %v odd %v a %v d %v", m.Stale("c.example.", covers), m.Stale("odd \"name\"\n.", covers),
			m.Stale("a.example.", covers), m.Stale("d.example.", covers))
	}
	// Emptied by a compaction, the log still numbers above what it had.
	last := m.Seq()
	if err := m.Compact(last); err != nil {
		t.Fatal(err)
	}
	m.Close()
	m, _ = OpenMarks(path)
	defer m.Close()
	m.Mark("e.example.")
	if !m.Stale("e.example.", last) {
		t.Errorf("a mark after an emptying compaction numbers %d, not above %d", m.Seq(), last)
	}
}
