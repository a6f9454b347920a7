// Package snapshot keeps a server's whole served set in one file, so that a
// restart answers from it at once instead of reading every zone file first:
// a header, then one record per zone, each with its own CRC-32C, written
// aside and renamed into place (temporary file, fsync, rename, fsync of the
// directory). A record that does not check out is left out, never guessed
// at; a file of another format is no snapshot at all.
//
// A snapshot is written now and then, not on every change: a change made
// after it (Marks) says which of its records are out of date.
//
// It knows nothing of zones: records are bytes.
package snapshot

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// magic starts a snapshot; the digit is the format's version.
const magic = "MXSNAP1\n"

// endMark follows the last record: a file without it was cut short.
const endMark = 0xFFFFFFFF

// maxRecord bounds one record: no zone in binary form comes near it, and a
// damaged length never makes the reader look past the file.
const maxRecord = 1 << 30

var sum = crc32.MakeTable(crc32.Castagnoli)

// Header says what a snapshot holds and what it was made with.
type Header struct {
	// Covers is the Marks sequence number the snapshot includes: marks
	// with a higher number were made after it.
	Covers uint64 `json:"covers"`
	// Source identifies what the records must be read against (the zone
	// directory): a snapshot of another is not used.
	Source string `json:"source"`
	// Settings identifies how the records were judged (rules, limits, the
	// program's version): with other settings they are served, but all
	// checked again.
	Settings string `json:"settings"`
	Written  int64  `json:"written"` // unix seconds
	Records  int    `json:"records"`
}

// ErrFormat is a file that is not a snapshot of this format, or is cut short.
var ErrFormat = errors.New("snapshot: not a snapshot of this format, or cut short")

// Write replaces the snapshot at path with h and the records each yields
// (it calls add once per record, in any order), durably.
func Write(path string, h Header, each func(add func([]byte) error) error) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = write(f, h, each)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write snapshot %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

func write(f *os.File, h Header, each func(add func([]byte) error) error) error {
	w := bufio.NewWriterSize(f, 1<<20)
	// The header goes last into its slot: the record count is known then.
	// Its slot has a fixed size, so it is written twice.
	const slot = 1024
	head := make([]byte, len(magic)+4+slot)
	if _, err := w.Write(head); err != nil {
		return err
	}
	var frame [4]byte
	n := 0
	add := func(rec []byte) error {
		if len(rec) >= maxRecord {
			return fmt.Errorf("record of %d bytes", len(rec))
		}
		binary.BigEndian.PutUint32(frame[:], uint32(len(rec)))
		w.Write(frame[:])
		w.Write(rec)
		binary.BigEndian.PutUint32(frame[:], crc32.Checksum(rec, sum))
		_, err := w.Write(frame[:])
		n++
		return err
	}
	if err := each(add); err != nil {
		return err
	}
	binary.BigEndian.PutUint32(frame[:], endMark)
	if _, err := w.Write(frame[:]); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	h.Records = n
	js, err := json.Marshal(h)
	if err != nil || len(js) > slot {
		return fmt.Errorf("snapshot header of %d bytes: %v", len(js), err)
	}
	copy(head, magic)
	binary.BigEndian.PutUint32(head[len(magic):], uint32(len(js)))
	copy(head[len(magic)+4:], js)
	_, err = f.WriteAt(head, 0)
	return err
}

// Snapshot is an open snapshot: its records are read from memory mapped
// from the file, valid until Close.
type Snapshot struct {
	Header  Header
	Records [][]byte // the records that check out, in file order
	Damaged int      // records left out: their checksum did not match
	data    []byte
}

// Open maps the snapshot at path and finds its records.
func Open(path string) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() < int64(len(magic)+4) || fi.Size() > 1<<40 {
		return nil, ErrFormat
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("map snapshot %s: %w", path, err)
	}
	unix.Madvise(data, unix.MADV_SEQUENTIAL)
	s := &Snapshot{data: data}
	if err := s.parse(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Snapshot) parse() error {
	b := s.data
	if string(b[:len(magic)]) != magic {
		return ErrFormat
	}
	const slot = 1024
	n := int(binary.BigEndian.Uint32(b[len(magic):]))
	start := len(magic) + 4
	if n > slot || len(b) < start+slot {
		return ErrFormat
	}
	if err := json.Unmarshal(b[start:start+n], &s.Header); err != nil {
		return ErrFormat
	}
	off := start + slot
	for {
		if off+4 > len(b) {
			return ErrFormat
		}
		size := binary.BigEndian.Uint32(b[off:])
		off += 4
		if size == endMark {
			break
		}
		if size >= maxRecord || off+int(size)+4 > len(b) {
			return ErrFormat
		}
		rec := b[off : off+int(size) : off+int(size)]
		off += int(size)
		if crc32.Checksum(rec, sum) == binary.BigEndian.Uint32(b[off:]) {
			s.Records = append(s.Records, rec)
		} else {
			s.Damaged++
		}
		off += 4
	}
	if off != len(b) || len(s.Records)+s.Damaged != s.Header.Records {
		return ErrFormat
	}
	return nil
}

// Close unmaps the snapshot: its records must not be used after.
func (s *Snapshot) Close() error {
	if s.data == nil {
		return nil
	}
	err := unix.Munmap(s.data)
	s.data, s.Records = nil, nil
	return err
}

// Remove deletes the snapshot at path, durably: the next start reads every
// file. No snapshot is no error.
func Remove(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
