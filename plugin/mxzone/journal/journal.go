// Package journal keeps one zone's history of changes on disk: the steps
// from one SOA serial to the next that IXFR hands out (RFC 1995), and the
// zone's dynamic changes (what UPDATE made of its file) as one delta that a
// restart applies again. Every append is on disk (fdatasync) before Append
// returns, so a change acknowledged to a client survives a crash at any
// point; a torn tail left by one is dropped when the journal is opened.
// The journal is bounded: past its size it is rewritten with the delta and
// the newest steps only, which never changes what the delta says.
//
// It knows nothing of servers or zones beyond records and serials.
package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Step is one version step of a zone: from the version with serial From to
// the one with serial To, the records deleted and added (the SOA records
// themselves not among them; IXFR adds them).
type Step struct {
	From, To uint32
	Time     time.Time
	Key      string // the TSIG key of the UPDATE that made it; "": a file edit or re-signing
	Del, Add []dns.RR
}

// Delta is what UPDATE changed of the zone's file: records it deleted from
// the file's version and records it added; and the serial and content (a
// digest the caller chooses) of the version served with it, so that a
// restart serving the same content keeps the serial.
type Delta struct {
	Serial   uint32
	Digest   [32]byte
	Del, Add []dns.RR
}

// Empty reports whether the delta changes nothing.
func (d *Delta) Empty() bool { return d == nil || len(d.Del)+len(d.Add) == 0 }

// Journal is one zone's journal file, open for appending. It is safe for
// concurrent use: Sync may run while another change is appended.
type Journal struct {
	mu    sync.Mutex
	path  string
	f     *os.File
	size  int64
	max   int64
	steps []stored // oldest first
	delta *Delta
}

// stored is a step as it is on disk, decoded when asked for.
type stored struct {
	from, to uint32
	payload  []byte
}

// Replay says what opening found.
type Replay struct {
	Steps   int   // steps held
	Dropped int64 // bytes of a torn or damaged tail cut off
}

// The record kinds in a journal file.
const (
	kindStep  = 1
	kindDelta = 2
	kindBoth  = 3 // a step and the delta after it, in one record: never one without the other
)

// header is the length and CRC-32C of one record's payload.
const header = 8

// maxRecord bounds one record: a record longer than this is damage.
const maxRecord = 64 << 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrTooLarge is returned for a change that alone is larger than the
// journal may grow.
var ErrTooLarge = errors.New("change is larger than the journal's size limit")

// Open opens (or creates) the journal at path, replays it, and cuts off a
// torn tail. maxBytes bounds the file (at least 64 KiB is used).
func Open(path string, maxBytes int64) (*Journal, Replay, error) {
	return OpenWith(path, maxBytes, true)
}

// OpenWith is Open; with syncDir false a new file's directory entry is not
// synced here: the caller syncs the whole file system (syncfs) before it
// acknowledges the first change.
func OpenWith(path string, maxBytes int64, syncDir bool) (*Journal, Replay, error) {
	maxBytes = max(maxBytes, 64<<10)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, Replay{}, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, Replay{}, err
	}
	j := &Journal{path: path, f: f, max: maxBytes}
	good := j.replay(data)
	rep := Replay{Steps: len(j.steps), Dropped: int64(len(data) - good)}
	if rep.Dropped > 0 {
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return nil, rep, fmt.Errorf("cut torn tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, rep, err
		}
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		f.Close()
		return nil, rep, err
	}
	j.size = int64(good)
	if len(data) == 0 && syncDir {
		// A new file: its directory entry must be on disk before the first
		// acknowledged change is.
		if err := syncDirectory(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, rep, err
		}
	}
	return j, rep, nil
}

// replay reads the records of data and returns the length of the valid
// prefix.
func (j *Journal) replay(data []byte) int {
	off := 0
	for off+header <= len(data) {
		n := int(binary.BigEndian.Uint32(data[off:]))
		sum := binary.BigEndian.Uint32(data[off+4:])
		if n == 0 || n > maxRecord || off+header+n > len(data) {
			break
		}
		payload := data[off+header : off+header+n]
		if crc32.Checksum(payload, crcTable) != sum || !j.take(payload) {
			break
		}
		off += header + n
	}
	return off
}

// take records one payload read back; false: it does not decode.
func (j *Journal) take(payload []byte) bool {
	switch payload[0] {
	case kindStep:
		s, err := decodeStep(payload)
		if err != nil {
			return false
		}
		j.steps = append(j.steps, stored{from: s.From, to: s.To, payload: payload})
	case kindDelta:
		d, err := decodeDelta(payload)
		if err != nil {
			return false
		}
		j.delta = d
	case kindBoth:
		sp, dp, ok := splitBoth(payload)
		if !ok {
			return false
		}
		s, err1 := decodeStep(sp)
		d, err2 := decodeDelta(dp)
		if err1 != nil || err2 != nil {
			return false
		}
		j.steps = append(j.steps, stored{from: s.From, to: s.To, payload: sp})
		j.delta = d
	default:
		return false
	}
	return true
}

// Append writes a step and the delta after it (either may be nil), as one
// record, and with sync puts it on disk (fdatasync) before it returns. The steps must follow each other: a step whose From is
// not the last step's To starts the history afresh (older steps cannot lead
// to it). When the file would grow past its bound it is compacted first.
func (j *Journal) Append(s *Step, d *Delta, sync bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var sp, dp []byte
	var err error
	if s != nil {
		if sp, err = encodeStep(s); err != nil {
			return err
		}
	}
	if d != nil {
		if dp, err = encodeDelta(d); err != nil {
			return err
		}
	}
	var buf []byte
	switch {
	case s != nil && d != nil:
		buf = appendRecord(buf, joinBoth(sp, dp))
	case s != nil:
		buf = appendRecord(buf, sp)
	case d != nil:
		buf = appendRecord(buf, dp)
	default:
		return nil
	}
	if int64(len(buf)) > j.max/2 {
		return ErrTooLarge
	}
	if s != nil && len(j.steps) > 0 && j.steps[len(j.steps)-1].to != s.From {
		j.steps = nil
		if err := j.rewrite(nil); err != nil {
			return err
		}
	}
	if j.size+int64(len(buf)) > j.max {
		if err := j.compact(int64(len(buf))); err != nil {
			return err
		}
	}
	if _, err := j.f.Write(buf); err != nil {
		return err
	}
	j.size += int64(len(buf))
	if sync {
		if err := fdatasync(j.f); err != nil {
			return err
		}
	}
	if s != nil {
		j.steps = append(j.steps, stored{from: s.From, to: s.To, payload: sp})
	}
	if d != nil {
		j.delta = cloneDelta(d)
	}
	return nil
}

// Sync puts what was appended on disk (fdatasync): an acknowledgement
// waits for it. Changes appended by others meanwhile are synced with it.
func (j *Journal) Sync() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return fdatasync(j.f)
}

// compact rewrites the journal with the delta and as many of the newest
// steps as leave room for need more bytes within half the bound.
func (j *Journal) compact(need int64) error {
	room := j.max/2 - need
	keep := len(j.steps)
	var used int64
	for keep > 0 {
		n := int64(header + len(j.steps[keep-1].payload))
		if used+n > room {
			break
		}
		used += n
		keep--
	}
	return j.rewrite(j.steps[keep:])
}

// rewrite replaces the file by one holding steps and the delta, written
// aside, synced and renamed over it.
func (j *Journal) rewrite(steps []stored) error {
	var buf []byte
	for _, s := range steps {
		buf = appendRecord(buf, s.payload)
	}
	if j.delta != nil {
		dp, err := encodeDelta(j.delta)
		if err != nil {
			return err
		}
		buf = appendRecord(buf, dp)
	}
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err = f.Write(buf); err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, j.path); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := syncDirectory(filepath.Dir(j.path)); err != nil {
		f.Close()
		return err
	}
	j.f.Close()
	j.f, j.size = f, int64(len(buf))
	j.steps = append([]stored(nil), steps...)
	return nil
}

// Reset drops the history: the journal holds the delta d alone. For a
// zone whose served version no longer follows from the steps (its file
// changed while the server was down).
func (j *Journal) Reset(d *Delta) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.delta = cloneDelta(d)
	return j.rewrite(nil)
}

// Delta is the last delta written; nil if none.
func (j *Journal) Delta() *Delta {
	j.mu.Lock()
	defer j.mu.Unlock()
	return cloneDelta(j.delta)
}

// Size is the journal's size in bytes.
func (j *Journal) Size() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.size
}

// Range is the oldest serial the steps start from and the serial they lead
// to; ok is false without steps.
func (j *Journal) Range() (first, last uint32, ok bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.steps) == 0 {
		return 0, 0, false
	}
	return j.steps[0].from, j.steps[len(j.steps)-1].to, true
}

// Since returns the steps from serial from to the newest, oldest first;
// ok is false when the journal does not reach back to from.
func (j *Journal) Since(from uint32) ([]Step, bool) {
	j.mu.Lock()
	steps := j.steps
	j.mu.Unlock()
	for i, s := range steps {
		if s.from != from {
			continue
		}
		out := make([]Step, 0, len(steps)-i)
		for _, st := range steps[i:] {
			dec, err := decodeStep(st.payload)
			if err != nil {
				return nil, false
			}
			out = append(out, *dec)
		}
		return out, true
	}
	return nil, false
}

// Close closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.f.Close()
}

// Remove deletes the journal at path (and a rewrite left aside).
func Remove(path string) error {
	os.Remove(path + ".tmp")
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return syncDirectory(filepath.Dir(path))
}

func cloneDelta(d *Delta) *Delta {
	if d == nil {
		return nil
	}
	return &Delta{Serial: d.Serial, Digest: d.Digest, Del: append([]dns.RR(nil), d.Del...), Add: append([]dns.RR(nil), d.Add...)}
}

func syncDirectory(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ReadDelta reads the delta of the journal at path without opening it for
// writing: a torn tail is left for the server to cut. nil: the journal holds
// no delta (or there is no journal).
func ReadDelta(path string) (*Delta, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	j := &Journal{path: path}
	j.replay(data)
	return j.delta, nil
}
