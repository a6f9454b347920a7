package rollover

import (
	"fmt"
	"slices"
	"time"
)

// Need is a key the caller is to make: for the first keys of a zone, or
// for the rollover Plan says is due.
type Need struct {
	Role      Role
	Algorithm uint8
}

// algorithm is the one the zone's keys are to have.
func (s *State) algorithm(p Policy) uint8 {
	if s.Algorithm != 0 {
		return s.Algorithm
	}
	return p.Algorithm
}

// inService lists the keys not retired.
func (s *State) inService() []*Key {
	var out []*Key
	for i := range s.Keys {
		if !s.Keys[i].Retired {
			out = append(out, &s.Keys[i])
		}
	}
	return out
}

// Initial is what a zone with no key needs: a CSK, or a KSK and a ZSK.
func Initial(p Policy, s *State) []Need {
	alg := s.algorithm(p)
	if p.Split {
		return []Need{{KSK, alg}, {ZSK, alg}}
	}
	return []Need{{CSK, alg}}
}

// Plan says which rollover is due at now and the keys it needs (kind 0:
// none): another algorithm than the keys have, a change between CSK and
// split, one the operator asked for (Pending), or a key past its lifetime.
func (s *State) Plan(p Policy, now time.Time) (Kind, []Need) {
	keys := s.inService()
	if s.Roll != nil || len(keys) == 0 {
		return 0, nil
	}
	alg := s.algorithm(p)
	roles := map[Role]*Key{}
	for _, k := range keys {
		if k.Algorithm != alg {
			return RollAlgorithm, Initial(p, s)
		}
		roles[k.Role] = k
	}
	csk, ksk, zsk := roles[CSK], roles[KSK], roles[ZSK]
	due := func(k *Key, life time.Duration) bool { return k != nil && life > 0 && !now.Before(k.Created.Add(life)) }
	switch {
	case !p.Split && csk == nil:
		return RollCSK, []Need{{CSK, alg}}
	case p.Split && csk != nil:
		return RollZSK, []Need{{ZSK, alg}} // the CSK stays, as the KSK
	case s.Pending == RollCSK && !p.Split, s.Pending == RollKSK && !p.Split:
		return RollCSK, []Need{{CSK, alg}}
	case s.Pending == RollKSK, s.Pending == RollCSK:
		return RollKSK, []Need{{KSK, alg}}
	case s.Pending == RollZSK && p.Split:
		return RollZSK, []Need{{ZSK, alg}}
	case !p.Split && due(csk, p.KSKLifetime):
		return RollCSK, []Need{{CSK, alg}}
	case p.Split && due(zsk, p.ZSKLifetime):
		return RollZSK, []Need{{ZSK, alg}}
	case p.Split && due(ksk, p.KSKLifetime):
		return RollKSK, []Need{{KSK, alg}}
	}
	return 0, nil
}

// AddInitial records the first keys of a zone, in service at once.
func (s *State) AddInitial(keys []Key) { s.Keys = append(s.Keys, keys...) }

// Begin starts a rollover of kind at now with the new keys the caller made
// for Plan's needs: the keys they replace become its old ones.
func (s *State) Begin(kind Kind, keys []Key, now time.Time) {
	r := &Roll{Kind: kind, Since: now}
	for _, k := range s.inService() {
		switch {
		case kind == RollZSK && k.Role == CSK:
			r.Convert = true
			r.Old = append(r.Old, k.ID)
		case kind == RollZSK && k.Role == ZSK, kind == RollKSK && k.Role == KSK,
			kind == RollCSK, kind == RollAlgorithm:
			r.Old = append(r.Old, k.ID)
		}
	}
	for _, k := range keys {
		r.New = append(r.New, k.ID)
	}
	s.Keys = append(s.Keys, keys...)
	s.Roll, s.Pending = r, 0
}

// Advance takes the next step of the rollover in progress if its wait is
// over at now, and reports whether it did. One step at a time: each
// step's wait counts from when its records are served, which is after
// the caller published what this call changed. dsSeen says whether the
// parent serves the DS of the keys given; it is asked only in a step that
// waits for it, until it says yes.
func (s *State) Advance(p Policy, t Timing, now time.Time, dsSeen func(ids []string) bool) bool {
	r := s.Roll
	if r == nil {
		return false
	}
	from, seen := r.Since, false
	if waitsForDS(r.Kind, r.Step) {
		if r.DSSeen.IsZero() {
			if !dsSeen(s.submitted(r.New)) {
				return false
			}
			r.DSSeen, seen = now, true
		}
		from = r.DSSeen
	}
	if now.Before(from.Add(stepWait(r.Kind, r.Step, p, t))) {
		return seen // the DS seen is worth saving
	}
	r.Step++
	r.Since, r.DSSeen = now, time.Time{}
	if r.Step == len(Steps[r.Kind]) {
		s.finish(p, t, now)
	}
	return true
}

// submitted lists which of ids are keys the parent's DS names (KSK, CSK).
func (s *State) submitted(ids []string) []string {
	var out []string
	for _, id := range ids {
		if k := s.Key(id); k != nil && k.Role != ZSK {
			out = append(out, id)
		}
	}
	return out
}

// finish ends the rollover at now: its old keys are retired, to be removed
// once every record they made expired (a converted CSK stays, as the KSK).
func (s *State) finish(p Policy, t Timing, now time.Time) {
	r := s.Roll
	s.Roll = nil
	for _, id := range r.Old {
		k := s.Key(id)
		if r.Convert && k.Role == CSK {
			k.Role = KSK
			continue
		}
		k.Retired, k.Remove = true, now.Add(p.Propagation+max(t.KeyTTL, t.MaxTTL))
	}
}

// Expire drops the retired keys whose records expired at now, and returns
// their IDs: the caller removes their files.
func (s *State) Expire(now time.Time) []string {
	var gone []string
	s.Keys = slices.DeleteFunc(s.Keys, func(k Key) bool {
		if k.Retired && !now.Before(k.Remove) {
			gone = append(gone, k.ID)
			return true
		}
		return false
	})
	return gone
}

// Next is when something may next happen to s: the end of a step's wait,
// a key's lifetime, a retired key's removal (zero: nothing is scheduled).
// waiting reports a step that waits for the parent's DS: the caller looks
// again from time to time.
func (s *State) Next(p Policy, t Timing) (at time.Time, waiting bool) {
	earliest := func(c time.Time) {
		if !c.IsZero() && (at.IsZero() || c.Before(at)) {
			at = c
		}
	}
	if r := s.Roll; r != nil {
		switch {
		case waitsForDS(r.Kind, r.Step) && r.DSSeen.IsZero():
			waiting = true
		case waitsForDS(r.Kind, r.Step):
			earliest(r.DSSeen.Add(stepWait(r.Kind, r.Step, p, t)))
		default:
			earliest(r.Since.Add(stepWait(r.Kind, r.Step, p, t)))
		}
	}
	for _, k := range s.Keys {
		switch {
		case k.Retired:
			earliest(k.Remove)
		case s.Roll != nil:
		case k.Role == ZSK && p.ZSKLifetime > 0:
			earliest(k.Created.Add(p.ZSKLifetime))
		case k.Role != ZSK && p.KSKLifetime > 0:
			earliest(k.Created.Add(p.KSKLifetime))
		}
	}
	return at, waiting
}

// Clone returns a copy of s that shares nothing with it.
func (s *State) Clone() *State {
	c := &State{Keys: slices.Clone(s.Keys), Algorithm: s.Algorithm, Pending: s.Pending}
	if s.Roll != nil {
		r := *s.Roll
		r.New, r.Old = slices.Clone(r.New), slices.Clone(r.Old)
		c.Roll = &r
	}
	return c
}

// Request is what an operator asks of a zone's keys: a rollover now (of
// Kind, or to Algorithm), or, with Submitted, that the parent has the new
// DS (for a parent no server of the policy can be asked).
type Request struct {
	Kind      Kind  `json:"kind,omitempty"`
	Algorithm uint8 `json:"algorithm,omitempty"`
	Submitted bool  `json:"submitted,omitempty"`
}

// Apply takes req into s at now, or says why it cannot be.
func (s *State) Apply(req Request, p Policy, now time.Time) error {
	r := s.Roll
	switch {
	case req.Submitted && (r == nil || !waitsForDS(r.Kind, r.Step)):
		return fmt.Errorf("no rollover waits for its DS at the parent (%s)", s)
	case req.Submitted:
		if r.DSSeen.IsZero() {
			r.DSSeen = now
		}
		return nil
	case r != nil:
		return fmt.Errorf("a rollover is in progress (%s): wait until it is done", s)
	case req.Algorithm != 0:
		if req.Algorithm == s.algorithm(p) && !slices.ContainsFunc(s.inService(), func(k *Key) bool { return k.Algorithm != req.Algorithm }) {
			return fmt.Errorf("the keys already have algorithm %d", req.Algorithm)
		}
		s.Algorithm = req.Algorithm
		if req.Algorithm == p.Algorithm {
			s.Algorithm = 0
		}
		return nil
	case req.Kind == RollZSK && !p.Split, req.Kind == RollKSK && !p.Split:
		return fmt.Errorf("the policy has one combined key (CSK): roll the csk")
	case req.Kind == RollCSK && p.Split:
		return fmt.Errorf("the policy splits the keys: roll the ksk or the zsk")
	}
	s.Pending = req.Kind
	return nil
}
