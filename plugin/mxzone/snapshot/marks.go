package snapshot

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Marks is the log of the records a snapshot may no longer have right: one
// line per change, "SEQ NAME", on disk before the change is served. A
// record whose name was marked with a number above the snapshot's Covers is
// out of date. Numbers only grow; Compact drops the lines a newer snapshot
// covers.
type Marks struct {
	path string

	mu   sync.Mutex
	f    *os.File
	seq  uint64
	last map[string]uint64 // name -> highest mark, as read at open and since
}

// OpenMarks opens (or makes) the log at path and reads what it holds. A
// line cut short by a crash is ignored: its change was never served.
func OpenMarks(path string) (*Marks, error) {
	m := &Marks{path: path, last: map[string]uint64{}}
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	for line := range bytes.Lines(data) {
		seq, name, ok := parseMark(line)
		if !ok {
			continue
		}
		m.seq = max(m.seq, seq)
		m.last[name] = max(m.last[name], seq)
	}
	if m.f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	return m, nil
}

func parseMark(line []byte) (uint64, string, bool) {
	s, ok := strings.CutSuffix(string(line), "\n")
	if !ok {
		return 0, "", false
	}
	num, quoted, ok := strings.Cut(s, " ")
	if !ok {
		return 0, "", false
	}
	seq, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, "", false
	}
	name, err := strconv.Unquote(quoted)
	if err != nil {
		return 0, "", false
	}
	return seq, name, true
}

// Seq is the number of the last mark: a snapshot taken now covers it.
func (m *Marks) Seq() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seq
}

// Stale reports whether name was marked after a snapshot covering covers.
func (m *Marks) Stale(name string, covers uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last[name] > covers
}

// Mark records that names change now, durably, under one new number.
func (m *Marks) Mark(names ...string) error {
	if len(names) == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	var b []byte
	for _, name := range names {
		b = strconv.AppendUint(b, m.seq, 10)
		b = append(b, ' ')
		b = append(strconv.AppendQuote(b, name), '\n')
		m.last[name] = m.seq
	}
	if _, err := m.f.Write(b); err != nil {
		return fmt.Errorf("snapshot marks %s: %w", m.path, err)
	}
	if err := m.f.Sync(); err != nil {
		return fmt.Errorf("snapshot marks %s: %w", m.path, err)
	}
	return nil
}

// Compact rewrites the log without the marks a snapshot covering covers
// has made obsolete.
func (m *Marks) Compact(covers uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	// The first line keeps the number: a log emptied here still numbers
	// the next mark above every snapshot taken so far.
	fmt.Fprintf(w, "%d %s\n", m.seq, strconv.Quote(""))
	for name, seq := range m.last {
		if seq > covers {
			fmt.Fprintf(w, "%d %s\n", seq, strconv.Quote(name))
		} else {
			delete(m.last, name)
		}
	}
	w.Flush()
	tmp := m.path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o600); err != nil {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_APPEND, 0o600)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, m.path)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		os.Remove(tmp)
		return fmt.Errorf("snapshot marks %s: %w", m.path, err)
	}
	m.f.Close()
	m.f = f
	return nil
}

// Close closes the log.
func (m *Marks) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.f.Close()
}
