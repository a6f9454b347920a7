package mxzone

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/journal"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/update"
)

// defaultJournalSize bounds one zone's journal (journal_size).
const defaultJournalSize = 1 << 20

// serialPolicy is how the served serial goes up on a change (Knot's
// serial-policy).
type serialPolicy int

const (
	serialIncrement serialPolicy = iota // the last served serial plus one
	serialUnixtime                      // the time in seconds, or the last plus one if that is not newer
)

// updater takes the RFC 2136 updates of the served zones (update POLICYDIR)
// and keeps each zone's journal. Its maps are guarded by mu; the writers
// (updates, reloads) also hold the plugin's reload lock, so they never race
// one another, while queries for transfers and the status API only read.
type updater struct {
	dir         string // POLICYDIR, absolute
	journals    string // STATE/journal
	journalSize int64
	serial      serialPolicy
	// secrets are the TSIG keys the server was started with (name ->
	// base64), from the policy files: the DNS server checks MACs with them.
	secrets map[string]string

	mu       sync.RWMutex
	policies map[string]*update.Policy // origin -> its policy file, as last read
	problems map[string]string         // policy file -> the problem last logged
	warned   map[string]bool           // policy files said to be readable by others
	zones    map[string]*dynZone       // origin -> its journal, once it has one
	bytes    atomic.Int64              // the journals' sizes together
	commit   *groupCommit              // puts acknowledged changes on disk, many at once
}

// dynZone is one zone's journal and what the status API shows of it. The
// journal locks itself; mu guards the rest.
type dynZone struct {
	j       *journal.Journal
	mu      sync.Mutex
	delta   *journal.Delta // what UPDATE changed of the file; nil: nothing
	lastKey string         // the key of the last update
	lastAt  time.Time
	updates int // updates applied since the start
}

// nextSerial is the serial of a changed version served after last, whose
// file says file (0: the file is not what changed).
func (u *updater) nextSerial(file, last uint32, now time.Time) uint32 {
	if last == 0 || file != 0 && serialNewer(file, last) {
		return file
	}
	if u.serial == serialUnixtime {
		if t := uint32(now.Unix()); serialNewer(t, last) {
			return t
		}
	}
	return last + 1
}

// dynamicFor is what a new version of origin carries over (see dynamic),
// given the version served before it (nil: none, the first load).
func (u *updater) dynamicFor(origin string, served *version) *dynamic {
	d := &dynamic{next: func(file, last uint32) uint32 { return u.nextSerial(file, last, time.Now()) }}
	if delta := u.delta(origin); delta != nil {
		d.del, d.add = delta.Del, delta.Add
		d.serial, d.digest = delta.Serial, delta.Digest
	}
	if served != nil {
		d.serial, d.digest = served.served().Serial(), served.unsignedDigest()
	}
	return d
}
