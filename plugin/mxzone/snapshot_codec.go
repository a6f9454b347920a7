package mxzone

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"
)

// One served zone in a start snapshot (snapshot.go): the entry as the
// status API and the reloads know it, and its version with the index in
// binary form, so that reading it back is a copy, not a parse.

// Kinds of records: a zone served from the snapshot, or only the name of
// one that is not (it is read from its file at the start, before any
// answer: see snapshotable).
const (
	recordZone = 1
	recordName = 2
)

// encodeName appends the name and file of e, which the snapshot does not
// serve, to b.
func encodeName(b []byte, e *entry) []byte {
	w := &recWriter{b: b}
	w.u8(recordName)
	w.str(e.origin)
	w.str(e.file)
	return w.b
}

// encodeEntry appends e, whose version is served, to b.
func encodeEntry(b []byte, e *entry) []byte {
	w := &recWriter{b: b}
	w.u8(recordZone)
	w.str(e.origin)
	w.str(e.file)
	w.u8(uint8(e.status))
	w.stamp(e.stamp)
	w.u32(uint32(len(e.includes)))
	for _, inc := range e.includes {
		w.str(inc.Rel)
		w.str(inc.File)
		w.stamp(inc.Stamp)
	}
	w.u32(uint32(len(e.findings)))
	for _, f := range e.findings {
		w.str(f.File)
		w.u32(uint32(f.Line))
		w.str(f.Zone)
		w.str(f.Owner)
		w.u32(uint32(f.Rule))
		w.u32(uint32(f.Severity))
		w.str(f.Message)
		w.flag(f.cross)
	}
	w.strs(e.depKeys)
	w.u32(e.fileSerial)
	w.u64(uint64(e.published.UnixNano()))
	v := e.zone
	w.str(v.file)
	w.strs(v.includes)
	w.u32(uint32(len(v.mx)))
	for _, p := range v.mx {
		w.pos(p)
	}
	w.u32(uint32(len(v.mail)))
	for _, r := range v.mail {
		w.str(r.owner)
		w.pos(r.pos)
		w.u8(uint8(r.kind))
	}
	w.flag(v.signed != nil)
	if v.signed != nil {
		w.b = append(w.b, v.signed.encode()...)
	} else {
		w.b = v.AppendBinary(w.b)
	}
	return w.b
}

var errBadEntry = errors.New("snapshot entry damaged")

// decodeEntry reads what encodeEntry or encodeName wrote; for a name, the
// entry has no version.
func decodeEntry(b []byte) (*entry, error) {
	r := &recReader{Reader: zone.NewReader(b)}
	switch r.u8() {
	case recordName:
		e := &entry{origin: r.str(), file: r.str()}
		if r.Bad() || r.Len() != 0 {
			return nil, errBadEntry
		}
		return e, nil
	case recordZone:
	default:
		return nil, errBadEntry
	}
	origin := r.raw() // the zone's own origin string is used
	e := &entry{file: r.str(), status: outcome(r.u8()), stamp: r.stamp()}
	if e.status > outcomeFromState {
		return nil, errBadEntry
	}
	r.same = e.file // most of the strings that follow are the file's name: shared, not copied
	for n := r.count(); n > 0 && !r.Bad(); n-- {
		e.includes = append(e.includes, zonefile.Include{Rel: r.str(), File: r.str(), Stamp: r.stamp()})
	}
	for n := r.count(); n > 0 && !r.Bad(); n-- {
		e.findings = append(e.findings, Finding{File: r.str(), Line: int(r.u32()), Zone: r.str(), Owner: r.str(),
			Rule: Rule(r.u32()), Severity: Severity(r.u32()), Message: r.str(), cross: r.flag()})
	}
	e.depKeys = r.strs()
	e.fileSerial = r.u32()
	e.published = time.Unix(0, int64(r.u64()))
	v := &version{file: r.str(), includes: r.strs()}
	for n := r.count(); n > 0 && !r.Bad(); n-- {
		v.mx = append(v.mx, r.pos())
	}
	for n := r.count(); n > 0 && !r.Bad(); n-- {
		v.mail = append(v.mail, mailRef{owner: r.str(), pos: r.pos(), kind: mailKind(r.u8())})
	}
	v.saved = true // from the state directory: refused edits leave it serving as from_state
	signed := r.flag()
	if r.Bad() {
		return nil, errBadEntry
	}
	if signed {
		z, err := decodeSigned(r.Rest())
		if err != nil {
			return nil, err
		}
		v.Zone, v.signed = *z.Zone, z
	} else {
		z, err := zone.ParseBinary(r.Rest())
		if err != nil {
			return nil, err
		}
		v.Zone = *z
	}
	if v.Origin() != string(origin) {
		return nil, errBadEntry
	}
	e.origin, e.zone = v.Origin(), v
	return e, nil
}

// recWriter appends the fields of a record: integers big-endian, strings
// and lists after their length.
type recWriter struct{ b []byte }

func (w *recWriter) u8(v uint8)   { w.b = append(w.b, v) }
func (w *recWriter) u32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *recWriter) u64(v uint64) { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *recWriter) str(s string) { w.u32(uint32(len(s))); w.b = append(w.b, s...) }
func (w *recWriter) pos(p mxPos)  { w.u32(uint32(p.line)); w.u32(uint32(p.file)) }

func (w *recWriter) flag(v bool) {
	if v {
		w.u8(1)
	} else {
		w.u8(0)
	}
}

func (w *recWriter) strs(list []string) {
	w.u32(uint32(len(list)))
	for _, s := range list {
		w.str(s)
	}
}

func (w *recWriter) stamp(s zonefile.Stamp) {
	w.u64(uint64(s.Size))
	w.u64(uint64(s.Mtime))
	w.u64(s.Ino)
	w.u64(uint64(s.Ctime))
}

// recReader reads what recWriter wrote; past the end it returns zeros and
// says bad.
type recReader struct {
	*zone.Reader
	same string // a string str returns itself when it reads the same
}

func (r *recReader) u8() uint8   { return r.U8() }
func (r *recReader) u32() uint32 { return r.U32() }
func (r *recReader) u64() uint64 { return r.U64() }

func (r *recReader) raw() []byte { return r.Bytes(int(r.u32())) }

func (r *recReader) str() string {
	b := r.raw()
	if string(b) == r.same {
		return r.same
	}
	return string(b)
}

func (r *recReader) flag() bool { return r.u8() == 1 }
func (r *recReader) pos() mxPos { return mxPos{line: int32(r.u32()), file: int32(r.u32())} }
func (r *recReader) stamp() zonefile.Stamp {
	return zonefile.Stamp{Size: int64(r.u64()), Mtime: int64(r.u64()), Ino: r.u64(), Ctime: int64(r.u64())}
}

// count reads a list's length, bounded by what is left: a damaged length
// never makes a huge allocation.
func (r *recReader) count() int {
	n := int(r.u32())
	if n > r.Len() {
		r.Fail()
		return 0
	}
	return n
}

func (r *recReader) strs() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for ; n > 0 && !r.Bad(); n-- {
		out = append(out, r.str())
	}
	return out
}
