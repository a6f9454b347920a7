// Package rollover times the key rollovers of a signed zone: which keys a
// zone has, what each does at a given moment, and when the next step may
// be taken. It follows RFC 7583: a pre-publish rollover for a zone signing
// key (section 3.2.1), a double-KSK rollover for a key signing key and a
// double-signature one for a combined signing key (section 3.3), and the
// algorithm rollover of RFC 6781 section 4.1.4. A step that needs the
// parent (the new DS) waits until the caller has seen it there.
//
// It is pure: no files, no clock of its own and no cryptography. The
// caller makes keys, keeps the State, and asks Advance what to do at the
// time it gives.
package rollover

import (
	"fmt"
	"slices"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/sign"
)

// Role is what a key is for.
type Role uint8

// The roles: a combined signing key, or a split of a key signing key (the
// one the parent's DS names) and a zone signing key.
const (
	CSK Role = iota
	KSK
	ZSK
)

func (r Role) String() string { return [...]string{"csk", "ksk", "zsk"}[r] }

// steady is what a key of role r does when no rollover touches it.
func (r Role) steady() sign.Use {
	switch r {
	case KSK:
		return sign.Use{Publish: true, SignKeys: true, Submit: true}
	case ZSK:
		return sign.Use{Publish: true, SignZone: true}
	}
	return sign.Combined
}

// Flags are the DNSKEY flags of a key of role r: a zone key, and for a
// key or combined signing key the secure entry point too (RFC 4034
// section 2.1.1).
func (r Role) Flags() uint16 {
	if r == ZSK {
		return 256
	}
	return 257
}

// Key is one key of a zone as the rollover sees it.
type Key struct {
	ID        string    `json:"id"` // sign.Key.ID: tag and algorithm
	Algorithm uint8     `json:"algorithm"`
	Role      Role      `json:"role"`
	Created   time.Time `json:"created"`
	// Retired is set when a rollover took the key out of service; its file
	// may be removed at Remove, once its records expired from every cache.
	Retired bool      `json:"retired,omitempty"`
	Remove  time.Time `json:"remove,omitzero"`
}

// Kind is a kind of rollover.
type Kind uint8

// The rollovers.
const (
	RollZSK       Kind = iota + 1 // pre-publish (RFC 7583 section 3.2.1)
	RollKSK                       // double-KSK (RFC 7583 section 3.3.2)
	RollCSK                       // double-signature of a combined key
	RollAlgorithm                 // RFC 6781 section 4.1.4
)

func (k Kind) String() string {
	return map[Kind]string{RollZSK: "zsk", RollKSK: "ksk", RollCSK: "csk", RollAlgorithm: "algorithm"}[k]
}

// Roll is a rollover in progress.
type Roll struct {
	Kind  Kind      `json:"kind"`
	New   []string  `json:"new"` // the incoming keys
	Old   []string  `json:"old"` // the outgoing ones
	Step  int       `json:"step"`
	Since time.Time `json:"since"` // when the step began
	// DSSeen is when the parent was first seen serving the DS of the new
	// keys, in the step that waits for it.
	DSSeen time.Time `json:"ds_seen,omitzero"`
	// Convert is a zone signing key rollover that splits a combined key:
	// the old CSK stays, as the KSK.
	Convert bool `json:"convert,omitempty"`
}

// State is what a zone's keys are, and the rollover in progress.
type State struct {
	Keys []Key `json:"keys"`
	Roll *Roll `json:"roll,omitempty"`
	// Algorithm is the one the operator asked for this zone (0: the
	// policy's).
	Algorithm uint8 `json:"algorithm,omitempty"`
	// Pending is a rollover asked for and not yet started.
	Pending Kind `json:"pending,omitempty"`
	// NextAt is when the caller last computed the next step to be due
	// (Next), for those who read the state without the zone's timing.
	NextAt time.Time `json:"next_at,omitzero"`
}

// Policy is how a zone's keys are kept.
type Policy struct {
	Algorithm uint8
	Split     bool // a KSK and a ZSK; else one CSK
	// KSKLifetime (the CSK's when not split) and ZSKLifetime start a
	// rollover when a key reaches them; 0: never on its own.
	KSKLifetime, ZSKLifetime time.Duration
	// Propagation is the time a change takes to reach every server of the
	// zone (Dprp); ParentPropagation the parent's.
	Propagation, ParentPropagation time.Duration
}

// Timing is what the waits depend on, read from the zone as served.
type Timing struct {
	KeyTTL time.Duration // of the DNSKEY RRset
	MaxTTL time.Duration // the largest TTL of a signed RRset
	DSTTL  time.Duration // of the DS at the parent
}

// Key returns the key id of s; nil if it has none.
func (s *State) Key(id string) *Key {
	for i := range s.Keys {
		if s.Keys[i].ID == id {
			return &s.Keys[i]
		}
	}
	return nil
}

// Use is what key id does now.
func (s *State) Use(id string) sign.Use {
	k := s.Key(id)
	if k == nil || k.Retired {
		return sign.Use{}
	}
	u := k.Role.steady()
	if r := s.Roll; r != nil {
		switch {
		case slices.Contains(r.New, id):
			u = mask(u, newMask[r.Kind][min(r.Step, len(newMask[r.Kind])-1)])
		case slices.Contains(r.Old, id):
			u = mask(u, oldMask[r.Kind][min(r.Step, len(oldMask[r.Kind])-1)])
		}
	}
	return u
}

// mask keeps of u what m allows.
func mask(u, m sign.Use) sign.Use {
	return sign.Use{Publish: u.Publish && m.Publish, SignKeys: u.SignKeys && m.SignKeys,
		SignZone: u.SignZone && m.SignZone, Submit: u.Submit && m.Submit}
}

var (
	all       = sign.Combined
	noSubmit  = sign.Use{Publish: true, SignKeys: true, SignZone: true}
	onlySigns = sign.Use{SignKeys: true, SignZone: true}
	noZone    = sign.Use{Publish: true, SignKeys: true, Submit: true}
	keySet    = sign.Use{Publish: true, SignKeys: true}
)

// newMask and oldMask say, for each kind and step, what the incoming and
// the outgoing keys may do of what their role does.
var newMask = map[Kind][]sign.Use{
	// Published first, signing nothing; then signing in the old one's stead.
	RollZSK: {{Publish: true}, all},
	// Published and signing the key set at once (double-KSK); submitted
	// once every cache may hold it. A CSK signs the zone's other RRsets
	// from then on, in the old one's stead (pre-publish for those), so a
	// step re-signs one RRset in each zone, not all of them.
	RollKSK: {noSubmit, all},
	RollCSK: {keySet, all},
	// Signatures first, then the key, then the DS.
	RollAlgorithm: {onlySigns, noSubmit, all, all},
}

var oldMask = map[Kind][]sign.Use{
	RollZSK:       {all, noZone},
	RollKSK:       {all, noSubmit},
	RollCSK:       {all, keySet},
	RollAlgorithm: {all, all, noSubmit, onlySigns},
}

// Steps names the steps of each kind, for the status and the log.
var Steps = map[Kind][]string{
	RollZSK:       {"new key published", "new key signs, old key published"},
	RollKSK:       {"new key published", "new key submitted: waiting for its DS at the parent"},
	RollCSK:       {"new key published", "new key submitted: waiting for its DS at the parent"},
	RollAlgorithm: {"new signatures", "new key published", "new key submitted: waiting for its DS at the parent", "old key withdrawn, its signatures kept"},
}

// waitsForDS reports whether step of kind ends only once the parent has
// the new DS.
func waitsForDS(kind Kind, step int) bool {
	return kind == RollKSK && step == 1 || kind == RollCSK && step == 1 || kind == RollAlgorithm && step == 2
}

// stepWait is how long step of kind lasts at least: until every cache may
// hold what the step published (RFC 7583 section 3), counted from the
// step's start, or from the DS seen at the parent.
func stepWait(kind Kind, step int, p Policy, t Timing) time.Duration {
	switch {
	case kind == RollCSK && step == 1:
		// The new DS at the parent, and the old key's signatures over the
		// zone's RRsets gone from every cache.
		return max(p.ParentPropagation+t.DSTTL, p.Propagation+t.MaxTTL)
	case waitsForDS(kind, step):
		return p.ParentPropagation + t.DSTTL
	}
	switch {
	case kind == RollZSK && step == 1, kind == RollAlgorithm && step == 0:
		return p.Propagation + t.MaxTTL // the old signatures, or the new ones, in every cache
	}
	return p.Propagation + t.KeyTTL // the new DNSKEY RRset in every cache
}

// NextStep describes what happens at the next step of the rollover in
// progress ("" with none).
func (s *State) NextStep() string {
	r := s.Roll
	switch {
	case r == nil:
		return ""
	case waitsForDS(r.Kind, r.Step) && r.DSSeen.IsZero():
		return "once the parent serves the new DS: " + s.stepAfter()
	}
	return s.stepAfter()
}

func (s *State) stepAfter() string {
	r := s.Roll
	if r.Step+1 < len(Steps[r.Kind]) {
		return fmt.Sprintf("step %d: %s", r.Step+2, Steps[r.Kind][r.Step+1])
	}
	return "done: the old key is withdrawn"
}

// String describes s for the log and the status.
func (s *State) String() string {
	if s.Roll == nil {
		return "no rollover in progress"
	}
	return fmt.Sprintf("%s rollover, step %d: %s", s.Roll.Kind, s.Roll.Step+1, Steps[s.Roll.Kind][s.Roll.Step])
}
