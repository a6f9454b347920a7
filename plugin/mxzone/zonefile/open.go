package zonefile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Stamp tells whether a file may have changed since it was read.
type Stamp struct {
	Size  int64
	Mtime int64 // nanoseconds
	Ino   uint64
	Ctime int64 // nanoseconds
}

func stampOfStat(st *syscall.Stat_t) Stamp {
	return Stamp{Size: st.Size, Mtime: st.Mtim.Nano(), Ino: st.Ino, Ctime: st.Ctim.Nano()}
}

// StampOf returns the stamp of fi.
func StampOf(fi fs.FileInfo) Stamp {
	s := Stamp{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.Ino = st.Ino
		s.Ctime = st.Ctim.Nano()
	}
	return s
}

// StatAt returns the stamp of name in the directory dirfd, following a
// symlink (for its metadata only; reading still goes through the root).
func StatAt(dirfd int, name string) (Stamp, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, 0); err != nil {
		return Stamp{}, err
	}
	return Stamp{Size: st.Size, Mtime: st.Mtim.Nano(), Ino: st.Ino, Ctime: st.Ctim.Nano()}, nil
}

// tracker knows which file the parser is reading and where the record being
// parsed started, which the parser itself does not tell.
type tracker struct {
	src      Source
	cur      *lineReader
	read     int64              // bytes read over all files
	stamp    Stamp              // of the zone file as read
	includes []Include          // files read through $INCLUDE
	busy     bool               // a file changed while it was read
	retypes  map[string]Retypes // by file: records read under markerType
}

// includeError is a refused $INCLUDE. Its text names the path only.
type includeError struct {
	name   string
	reason string
}

func (e *includeError) Error() string {
	return fmt.Sprintf("$INCLUDE %q refused: %s", e.name, e.reason)
}

// limitError says the files of one zone hold more bytes than allowed.
type limitError struct {
	rel   string
	limit int64
}

func (e *limitError) Error() string {
	return fmt.Sprintf("zone file and its includes exceed the limit of %d bytes", e.limit)
}

// errEscapes refuses a symlink that leaves the zone directory.
var errEscapes = errors.New("is a symbolic link that leads outside the zone directory or in a loop")

// errNotIncludable refuses an $INCLUDE of a file that is not a fragment
// the provider allows: another zone's file, a hidden file.
var errNotIncludable = errors.New("is not a file that may be included (a zone file, a hidden file, or outside the includable fragments)")

// errNotRegular refuses directories, FIFOs, devices and sockets.
var errNotRegular = errors.New("is not a regular file")

// errTooLarge says a file holds more than the zone may read.
var errTooLarge = errors.New("too large")

// open reads rel inside the zone directory, a regular file, into memory. It
// never blocks on a FIFO or device and never follows a link out of the
// directory. Zone files directly in the directory take the fast path: one
// openat on the directory, one fstat, one read.
func (t *tracker) open(rel string) (*lineReader, error) {
	include := rel != t.src.Rel
	if include {
		includable := t.src.Includable
		if includable == nil {
			includable = DefaultIncludable
		}
		if !includable(rel) {
			return nil, errNotIncludable
		}
	}
	var data []byte
	var stamp Stamp
	var err error
	if t.src.DirFD >= 0 && !strings.ContainsRune(rel, '/') {
		data, stamp, err = readAt(t.src.DirFD, rel, t.src.MaxBytes-t.read, t.src.Settle > 0)
		if errors.Is(err, syscall.ELOOP) && !include {
			data, stamp, err = t.readRoot(rel) // a symlink: allowed if it stays inside
		} else if errors.Is(err, syscall.ELOOP) {
			err = errors.New("is a symbolic link")
		}
	} else {
		data, stamp, err = t.readRoot(rel)
	}
	if errors.Is(err, errTooLarge) || err == nil && int64(len(data)) > t.src.MaxBytes-t.read {
		return nil, &limitError{rel: rel, limit: t.src.MaxBytes}
	}
	if errors.Is(err, ErrBusy) {
		if t.src.Settle == 0 {
			// The first load takes what it saw; the stamp taken before
			// reading makes the next scan read the file again.
			err = nil
		} else {
			t.busy = true
		}
	}
	if err != nil {
		return nil, err
	}
	if !include && t.src.Settle > 0 && time.Since(time.Unix(0, stamp.Mtime)) < t.src.Settle {
		// Written in place a moment ago, or cut off without its last
		// newline: most likely a writer that is not done yet, perhaps one
		// that pauses between lines. A file renamed into place is whole.
		if stamp.Ino == t.src.PrevIno || len(data) > 0 && data[len(data)-1] != '\n' {
			return nil, ErrBusy
		}
	}
	data, types := readable(data)
	t.read += int64(len(data))
	file := t.src.Display(rel)
	if types != nil {
		if t.retypes == nil {
			t.retypes = map[string]Retypes{}
		}
		t.retypes[file] = types
	}
	if !include {
		t.stamp = stamp
	} else {
		t.includes = append(t.includes, Include{Rel: rel, File: file, Stamp: stamp})
	}
	return &lineReader{t: t, data: data, rel: rel, file: file, line: 1, atStart: true}, nil
}

// readable rewrites, line for line, what BIND and Knot read in a zone file
// but miekg/dns does not (mnemonics.go, svcb.go). Each rewrite runs only
// when its words are in the file, looked for in one upper-cased copy: a
// plain file costs one pass, not one per rewrite.
func readable(data []byte) ([]byte, Retypes) {
	up := bytes.ToUpper(data)
	has := func(words ...string) bool {
		for _, w := range words {
			if bytes.Contains(up, []byte(w)) {
				return true
			}
		}
		return false
	}
	if has("KEY") { // DNSKEY, CDNSKEY, KEY
		data = keyAlgorithms(data)
	}
	if has("WKS") {
		data = wksRecords(data)
	}
	if has("IPSECKEY") {
		data = ipseckeyRecords(data)
	}
	if has("LOC") {
		data = locRecords(data)
	}
	if has(`"`) && has("$INCLUDE") {
		data = quotedIncludes(data)
	}
	if has("RRSIG") {
		data = rrsigDates(data)
	}
	var types Retypes
	if has("::FFFF:", `\#`) && has("SVCB", "HTTPS", "TYPE64", "TYPE65") {
		data, types = mappedHints(data)
	}
	return data, types
}

// readAt reads name in the directory dirfd, refusing symlinks (ELOOP) and
// anything but a regular file, and at most limit+1 bytes. With recheck it
// stats the file again after reading and returns the data with ErrBusy if
// it changed meanwhile (the first load does not: one syscall per file).
func readAt(dirfd int, name string, limit int64, recheck bool) ([]byte, Stamp, error) {
	fd, err := syscall.Openat(dirfd, name, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, Stamp{}, err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, Stamp{}, err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, Stamp{}, errNotRegular
	}
	stamp := stampOfStat(&st)
	if st.Size > limit {
		return nil, stamp, errTooLarge
	}
	buf := make([]byte, st.Size+1) // one more: a file that grew is still read whole
	n := 0
	for {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, stamp, err
		}
		if m == 0 {
			return buf[:n], stamp, recheckStamp(recheck, fd, stamp)
		}
		if n += m; int64(n) > limit {
			return nil, stamp, errTooLarge
		}
		if int64(n) == st.Size && n < len(buf) {
			// All that fstat saw. A file that grows meanwhile changes its
			// stamp, and the next event or rescan reads it again.
			return buf[:n], stamp, recheckStamp(recheck, fd, stamp)
		}
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
	}
}

// recheckStamp returns ErrBusy if recheck is set and the open file fd no
// longer matches the stamp taken before reading it: a writer changed it
// while it was read.
func recheckStamp(recheck bool, fd int, before Stamp) error {
	if !recheck {
		return nil
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return err
	}
	if stampOfStat(&st) != before {
		return ErrBusy
	}
	return nil
}

// readRoot reads rel through the os.Root of the zone directory, which keeps
// every step, symlinks included, inside it.
func (t *tracker) readRoot(rel string) ([]byte, Stamp, error) {
	st, err := t.src.Root.Lstat(rel)
	if err != nil {
		return nil, Stamp{}, cleanPathError(err)
	}
	switch {
	case st.Mode()&fs.ModeSymlink != 0 && rel != t.src.Rel:
		return nil, Stamp{}, errors.New("is a symbolic link")
	case st.Mode()&fs.ModeSymlink == 0 && !st.Mode().IsRegular():
		return nil, Stamp{}, errNotRegular
	}
	f, err := t.src.Root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, Stamp{}, cleanPathError(err)
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, Stamp{}, cleanPathError(err)
	}
	if !st.Mode().IsRegular() {
		return nil, Stamp{}, errNotRegular
	}
	data, err := io.ReadAll(io.LimitReader(f, max(t.src.MaxBytes-t.read, 0)+1))
	if err != nil {
		return nil, Stamp{}, err
	}
	after, err := f.Stat()
	if err != nil {
		return nil, Stamp{}, cleanPathError(err)
	}
	if StampOf(after) != StampOf(st) {
		return data, StampOf(st), ErrBusy
	}
	return data, StampOf(st), nil
}

// cleanPathError keeps the reason of a file-system error and drops the path,
// which the finding already shows.
func cleanPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, syscall.ELOOP) || strings.Contains(pe.Err.Error(), "escapes") {
			return errEscapes
		}
		return pe.Err
	}
	return err
}

// includeFS serves $INCLUDE targets from the zone directory only.
type includeFS struct{ t *tracker }

// Open is called by the parser with the include path joined to the including
// file's virtual name.
func (i includeFS) Open(name string) (fs.File, error) {
	rel, ok := strings.CutPrefix(unescapeName(name), virtualDir+"/")
	if ok && (rel != path.Clean(rel) || rel == ".." || strings.HasPrefix(rel, "../")) {
		ok = false // dots that were escaped until now: the path is judged as it is opened
	}
	if !ok {
		return nil, &includeError{name: name, reason: "the path leads outside the zone directory"}
	}
	lr, err := i.t.open(rel)
	if err != nil {
		var limit *limitError
		if errors.As(err, &limit) {
			return nil, err
		}
		return nil, &includeError{name: rel, reason: err.Error()}
	}
	return lr, nil
}
