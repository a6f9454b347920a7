package mxzone

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// debounce is how long the watch waits after a file-system event on a file
// for more on the same file: an editor or a provider's script often writes
// a file in several steps. Each file waits on its own: a file that changes
// all the time never holds back another.
const debounce = 50 * time.Millisecond

// settleTime is how long a zone file that ends without a newline must be
// left alone before a reload reads it: a writer that truncates and writes
// in place leaves such a file behind until it is done. Files replaced by
// rename are never seen half-written and never wait.
const settleTime = time.Second

// seekInterval and seekTries bound how long the watch looks for a
// replacement of a moved or deleted zone directory before leaving it to the
// rescans: 10 s.
const (
	seekInterval = 100 * time.Millisecond
	seekTries    = 100
)

// dirWatch is the inotify watch on the zone directory. It follows the
// directory when it is replaced (a new one renamed over it, or deleted and
// made again, or a symlink switched): the kernel's watch stays with the old
// directory.
type dirWatch struct {
	w       *fsnotify.Watcher
	dir     string
	watched uint64 // inode of the directory watched
}

// newDirWatch starts watching dir, before the first load reads it so that
// no change after that read is missed.
func newDirWatch(dir string) (*dirWatch, error) {
	d := &dirWatch{dir: dir, watched: dirInode(dir)}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := w.Add(d.dir); err != nil {
		w.Close()
		return nil, err
	}
	d.w = w
	return d, nil
}

// dirInode returns the inode of dir (following symlinks), or 0.
func dirInode(dir string) uint64 {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return 0
	}
	return st.Ino
}

// follow moves the watch to the directory now at DIR if it is not the one
// watched. It reports whether DIR exists and whether the watch moved.
func (d *dirWatch) follow() (present, moved bool, err error) {
	ino := dirInode(d.dir)
	if ino == 0 || ino == d.watched {
		return ino != 0, false, nil
	}
	d.w.Remove(d.dir) // the old watch, if the kernel has not dropped it already
	if err := d.w.Add(d.dir); err != nil {
		return true, false, err
	}
	d.watched = ino
	return true, true, nil
}

// watcher is the reload loop: it rebuilds from the files that changed, a
// short debounce after the last event, and every interval rescans the
// directory as a safety net for events that were missed (includes in
// subdirectories, file systems without notifications, an overflowing
// queue). It runs on one goroutine; nothing in it is shared.
type watcher struct {
	m        *MXZone
	interval time.Duration
	d        *dirWatch            // nil: no notifications, rescans only
	changed  map[string]time.Time // file -> its last event, until it is read
	deleted  map[string]bool      // changed files that were deleted on the way
	flush    *time.Timer          // fires when the first changed file has been quiet for debounce
	armed    bool                 // flush is running
	busy     map[string]bool
	again    *time.Timer // fires settleTime after a file was found being written
	seek     *time.Timer // looks for a replaced DIR
	seeking  int
}

// run watches the zone directory until ctx ends. d is nil when
// notifications could not be set up (werr says why).
func (m *MXZone) run(ctx context.Context, interval time.Duration, d *dirWatch, werr error) {
	w := &watcher{m: m, interval: interval, d: d, changed: map[string]time.Time{}, deleted: map[string]bool{},
		busy:  map[string]bool{},
		flush: stoppedTimer(), again: stoppedTimer(), seek: stoppedTimer()}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var events <-chan fsnotify.Event
	var errs <-chan error
	if d == nil {
		log.Warningf("%s: no file-system notifications (%v); scanning every %s", m.loader.dir, werr, interval)
	} else {
		defer d.w.Close()
		events, errs = d.w.Events, d.w.Errors
	}
	for {
		w.collectBusy()
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			w.event(ev)
		case err, ok := <-errs:
			if ok {
				w.overflow(err)
			}
		case <-w.flush.C:
			w.armed = false
			if names := w.quiet(time.Now()); len(names) > 0 {
				w.reload(names)
			}
			w.arm(time.Now())
		case <-w.again.C:
			w.reload(takeNames(w.busy))
		case <-w.seek.C:
			w.seekDir()
		case <-tick.C:
			w.rescan(events != nil)
		}
	}
}

func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// takeNames returns the names in set and empties it.
func takeNames(set map[string]bool) []string {
	names := slices.Collect(maps.Keys(set))
	clear(set)
	return names
}

// collectBusy schedules another read of the files the last reloads found
// being written.
func (w *watcher) collectBusy() {
	names := w.m.takeBusy()
	if len(names) == 0 {
		return
	}
	for _, n := range names {
		w.busy[n] = true
	}
	w.again.Reset(settleTime)
}

// event handles one file-system event: a file in DIR changed, or DIR itself
// was moved or deleted.
func (w *watcher) event(ev fsnotify.Event) {
	if filepath.Clean(ev.Name) == w.d.dir {
		// Its replacement may not be in place yet.
		if !w.rewatch() {
			w.seeking = 0
			w.seek.Reset(seekInterval)
		}
		return
	}
	now := time.Now()
	name := filepath.Base(ev.Name)
	w.changed[name] = now
	if ev.Has(fsnotify.Remove) {
		w.deleted[name] = true
	}
	w.arm(now)
}

// takeDeleted returns, and forgets, which of names were deleted since they
// were last read.
func (w *watcher) takeDeleted(names []string) []string {
	var out []string
	for _, n := range names {
		if w.deleted[n] {
			out = append(out, n)
			delete(w.deleted, n)
		}
	}
	return out
}

// reload reloads the files names: the large ones each read aside, on its own
// goroutine (asideBytes), the others at once.
func (w *watcher) reload(names []string) {
	deleted := w.takeDeleted(names)
	small := names[:0:0]
	for _, n := range names {
		if w.m.loader.large(n) {
			go w.m.readAside(n, slices.Contains(deleted, n))
		} else {
			small = append(small, n)
		}
	}
	if len(small) > 0 {
		w.m.reloadWith(small, scanNamed, deleted...)
	}
}

// quiet takes the changed files that have had no event for debounce.
func (w *watcher) quiet(now time.Time) []string {
	var names []string
	for name, last := range w.changed {
		if now.Sub(last) >= debounce {
			names = append(names, name)
			delete(w.changed, name)
		}
	}
	return names
}

// arm sets the flush timer for the changed file that will be quiet first,
// unless it is set already: the timer is not pushed back by later events,
// so one busy file cannot keep the others waiting.
func (w *watcher) arm(now time.Time) {
	if w.armed || len(w.changed) == 0 {
		return
	}
	first := now
	for _, last := range w.changed {
		if last.Before(first) {
			first = last
		}
	}
	w.flush.Reset(max(first.Add(debounce).Sub(now), time.Millisecond))
	w.armed = true
}

// overflow handles an error of the notifications: most likely a queue
// overflow, so events were lost.
func (w *watcher) overflow(err error) {
	log.Warningf("%s: file-system notifications: %v; rescanning", w.m.loader.dir, err)
	w.m.reloadWith(nil, scanAll)
}

// seekDir looks for a replaced DIR a few times a second for a while; after
// that the rescans go on looking.
func (w *watcher) seekDir() {
	if w.seeking++; !w.rewatch() && w.seeking < seekTries {
		w.seek.Reset(seekInterval)
	}
}

// rescan is the safety net: with notifications, a rotating rescan; without,
// the whole directory.
func (w *watcher) rescan(notified bool) {
	mode := scanAll
	if notified {
		w.rewatch()
		mode = scanRotating // notifications carry the edits
	}
	w.m.reloadWith(nil, mode)
}

// rewatch follows a replaced DIR and then scans it whole; false: DIR is not
// there (yet).
func (w *watcher) rewatch() bool {
	present, moved, err := w.d.follow()
	switch {
	case err != nil:
		log.Warningf("%s: the directory was replaced and cannot be watched again (%v); scanning every %s", w.d.dir, err, w.interval)
	case moved:
		log.Infof("%s: the directory was replaced; watching the new one", w.d.dir)
		w.m.reloadWith(nil, scanAll)
	}
	return present
}
