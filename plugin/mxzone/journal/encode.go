package journal

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/miekg/dns"
)

var errShort = errors.New("journal record cut short")

// A step's payload: kind, from, to, unix time (8), key length (1) and key,
// then the deleted and the added records, each list a count (4) and each
// record its length (2) and wire form (names uncompressed).
func encodeStep(s *Step) ([]byte, error) {
	b := []byte{kindStep}
	b = binary.BigEndian.AppendUint32(b, s.From)
	b = binary.BigEndian.AppendUint32(b, s.To)
	b = binary.BigEndian.AppendUint64(b, uint64(s.Time.Unix()))
	key := s.Key
	if len(key) > 255 {
		key = key[:255]
	}
	b = append(append(b, byte(len(key))), key...)
	var err error
	if b, err = appendRRs(b, s.Del); err != nil {
		return nil, err
	}
	return appendRRs(b, s.Add)
}

func decodeStep(p []byte) (*Step, error) {
	if len(p) < 1+4+4+8+1 {
		return nil, errShort
	}
	s := &Step{From: binary.BigEndian.Uint32(p[1:]), To: binary.BigEndian.Uint32(p[5:]),
		Time: time.Unix(int64(binary.BigEndian.Uint64(p[9:])), 0)}
	off := 17
	n := int(p[off])
	off++
	if off+n > len(p) {
		return nil, errShort
	}
	s.Key = string(p[off : off+n])
	off += n
	var err error
	if s.Del, off, err = readRRs(p, off); err != nil {
		return nil, err
	}
	if s.Add, off, err = readRRs(p, off); err != nil {
		return nil, err
	}
	if off != len(p) {
		return nil, errShort
	}
	return s, nil
}

// A delta's payload: kind, serial (4), digest (32), the deleted and the
// added records.
func encodeDelta(d *Delta) ([]byte, error) {
	b := binary.BigEndian.AppendUint32([]byte{kindDelta}, d.Serial)
	b = append(b, d.Digest[:]...)
	var err error
	if b, err = appendRRs(b, d.Del); err != nil {
		return nil, err
	}
	return appendRRs(b, d.Add)
}

func decodeDelta(p []byte) (*Delta, error) {
	if len(p) < 37 {
		return nil, errShort
	}
	d := &Delta{Serial: binary.BigEndian.Uint32(p[1:])}
	copy(d.Digest[:], p[5:37])
	off := 37
	var err error
	if d.Del, off, err = readRRs(p, off); err != nil {
		return nil, err
	}
	if d.Add, off, err = readRRs(p, off); err != nil {
		return nil, err
	}
	if off != len(p) {
		return nil, errShort
	}
	return d, nil
}

func appendRRs(b []byte, rrs []dns.RR) ([]byte, error) {
	b = binary.BigEndian.AppendUint32(b, uint32(len(rrs)))
	for _, rr := range rrs {
		n := dns.Len(rr)
		start := len(b)
		b = append(b, 0, 0)
		b = append(b, make([]byte, n)...)
		end, err := dns.PackRR(rr, b[start+2:], 0, nil, false)
		if err != nil {
			return nil, err
		}
		binary.BigEndian.PutUint16(b[start:], uint16(end))
		b = b[:start+2+end]
	}
	return b, nil
}

func readRRs(p []byte, off int) ([]dns.RR, int, error) {
	if off+4 > len(p) {
		return nil, off, errShort
	}
	n := int(binary.BigEndian.Uint32(p[off:]))
	off += 4
	if n > (len(p)-off)/2 {
		return nil, off, errShort
	}
	out := make([]dns.RR, 0, n)
	for range n {
		if off+2 > len(p) {
			return nil, off, errShort
		}
		l := int(binary.BigEndian.Uint16(p[off:]))
		off += 2
		if off+l > len(p) {
			return nil, off, errShort
		}
		rr, end, err := dns.UnpackRR(p[off:off+l], 0)
		if err != nil {
			return nil, off, err
		}
		if end != l || rr == nil {
			return nil, off, errShort
		}
		out = append(out, rr)
		off += l
	}
	return out, off, nil
}

// fdatasync puts the file's data on disk without its times.
func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

// joinBoth makes the payload of a step and a delta together: the kind, the
// step payload's length (4), the step payload, the delta payload.
func joinBoth(sp, dp []byte) []byte {
	b := []byte{kindBoth}
	b = binary.BigEndian.AppendUint32(b, uint32(len(sp)))
	return append(append(b, sp...), dp...)
}

func splitBoth(p []byte) (sp, dp []byte, ok bool) {
	if len(p) < 5 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint32(p[1:]))
	if n < 1 || 5+n >= len(p) {
		return nil, nil, false
	}
	return p[5 : 5+n], p[5+n:], true
}

func appendRecord(buf, payload []byte) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(payload)))
	buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(payload, crcTable))
	return append(buf, payload...)
}
