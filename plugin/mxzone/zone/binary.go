package zone

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"unsafe"

	"github.com/miekg/dns"
)

// binaryMagic starts a zone written by AppendBinary; the digit is the
// format's version.
const binaryMagic = "MXZONE1\n"

// AppendBinary appends z in the form ParseBinary reads: the packed index
// as it is in memory, so that reading it back costs a copy, not a parse.
// It is meant for the server's own files (the signed copies in the state
// directory), which carry a checksum of their own.
func (z *Zone) AppendBinary(b []byte) []byte {
	b = append(b, binaryMagic...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(z.origin)))
	b = append(b, z.origin...)
	for _, v := range [...]int32{z.owners, z.apex, z.soaAt, z.labels, z.count} {
		b = binary.BigEndian.AppendUint32(b, uint32(v))
	}
	b = append(b, byte(z.kinds))
	b = binary.BigEndian.AppendUint32(b, uint32(len(z.names)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(z.data)))
	b = append(b, z.data...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(z.idx)))
	for _, v := range z.idx {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// ErrBadBinary is a zone in binary form that is cut short or inconsistent.
var ErrBadBinary = errors.New("zone: not a zone in binary form, or a damaged one")

// ParseBinary reads a zone written by AppendBinary, checking that every
// offset lies inside it: a damaged file is an error, never a panic later.
func ParseBinary(b []byte) (*Zone, error) {
	r := NewReader(b)
	if string(r.Bytes(len(binaryMagic))) != binaryMagic {
		return nil, ErrBadBinary
	}
	z := &Zone{origin: string(r.Bytes(int(r.U16())))}
	for _, p := range [...]*int32{&z.owners, &z.apex, &z.soaAt, &z.labels, &z.count} {
		*p = int32(r.U32())
	}
	z.kinds = kinds(r.U8())
	namesLen := int(r.U32())
	z.data = slices.Clone(r.Bytes(int(r.U32())))
	nIdx := int(r.U32())
	if r.Bad() || nIdx > r.Len()/4 || z.owners < 0 || namesLen > len(z.data) {
		return nil, ErrBadBinary
	}
	z.idx = make([]uint32, nIdx)
	for i := range z.idx {
		z.idx[i] = r.U32()
	}
	if r.Bad() || r.Len() != 0 || !z.consistent(namesLen) {
		return nil, ErrBadBinary
	}
	z.names = unsafe.String(unsafe.SliceData(z.data), namesLen)
	return z, nil
}

// consistent checks the index of a zone read by ParseBinary.
func (z *Zone) consistent(namesLen int) bool {
	n := int(z.owners)
	if len(z.idx) < 2*(n+1) || z.apex < 0 || int(z.apex) >= n || z.soaAt < 0 || int(z.soaAt) > namesLen {
		return false
	}
	sets := int(z.idx[2*n+1])
	if len(z.idx) != 2*(n+1)+setWords*sets {
		return false
	}
	for i := range n {
		if z.idx[i] > z.idx[i+1] || z.idx[n+1+i] > z.idx[n+2+i] {
			return false
		}
	}
	if int(z.idx[n]) > namesLen || int(z.labels) != dns.CountLabel(z.origin) {
		return false
	}
	for k := range sets {
		off, count := int(z.setWord(k, 3)), int(z.setWord(k, 2))
		for range count {
			if off+2 > len(z.data) {
				return false
			}
			off += 2 + int(binary.BigEndian.Uint16(z.data[off:]))
		}
		if off > len(z.data) {
			return false
		}
	}
	if z.soaAt != 0 {
		// The SOA's names between the owners and the RDATA (withSOANames).
		names := string(z.data[z.soaAt:namesLen])
		if int(z.soaAt) < int(z.idx[n]) || strings.Count(names, "\x00") != 2 || !strings.HasSuffix(names, "\x00") {
			return false
		}
	}
	if z.soaAt != 0 || z.kinds != 0 {
		// The SOA's fixed fields are read from the end of its RDATA.
		apex := Node{z: z, i: z.apex}
		for k := z.firstSet(int(z.apex)); k < z.firstSet(int(z.apex)+1) && k < sets; k++ {
			if uint16(z.setWord(k, 0)>>16) == dns.TypeSOA && (z.setWord(k, 2) == 0 || len(RRset{z: z, k: int32(k), owner: apex.i}.record(0)) < 22) {
				return false
			}
		}
	}
	return true
}

// Reader takes fixed-size big-endian fields off a byte slice: past the
// end it returns zeros (nil for bytes) and Bad says so from then on. The
// binary zone form and the start snapshot are read with it.
type Reader struct {
	b   []byte
	bad bool
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Bytes takes the next n bytes.
func (r *Reader) Bytes(n int) []byte {
	if r.Bad() || n < 0 || n > len(r.b) {
		r.bad, r.b = true, nil
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

// U8, U16, U32 and U64 take the next field of their size.
func (r *Reader) U8() byte {
	if b := r.Bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *Reader) U16() uint16 {
	if b := r.Bytes(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *Reader) U32() uint32 {
	if b := r.Bytes(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *Reader) U64() uint64 {
	if b := r.Bytes(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// Rest takes every byte left.
func (r *Reader) Rest() []byte { return r.Bytes(len(r.b)) }

// Len is how many bytes are left.
func (r *Reader) Len() int { return len(r.b) }

// Bad reports a read past the end, or Fail.
func (r *Reader) Bad() bool { return r.bad }

// Fail marks what is read as bad: a field the caller found wrong.
func (r *Reader) Fail() { r.bad, r.b = true, nil }
