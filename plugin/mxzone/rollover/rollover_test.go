package rollover

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/sign"
)

const (
	p256 = 13 // ECDSAP256SHA256
	ed   = 15 // ED25519
)

var (
	t0     = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	timing = Timing{KeyTTL: time.Hour, MaxTTL: 2 * time.Hour, DSTTL: 24 * time.Hour}
	policy = Policy{Algorithm: p256, Propagation: 5 * time.Minute, ParentPropagation: 10 * time.Minute}
)

// keysFor makes the keys needs asks for, named by role and a counter.
func keysFor(needs []Need, now time.Time, n *int) []Key {
	var out []Key
	for _, need := range needs {
		*n++
		out = append(out, Key{ID: fmt.Sprintf("%s%d", need.Role, *n), Algorithm: need.Algorithm, Role: need.Role, Created: now})
	}
	return out
}

// uses renders what every key does: id:PKZS (published, signs keys, signs
// the zone, submitted), - for nothing.
func uses(s *State) string {
	var parts []string
	for _, k := range s.Keys {
		u := s.Use(k.ID)
		b := []byte("----")
		for i, on := range []bool{u.Publish, u.SignKeys, u.SignZone, u.Submit} {
			if on {
				b[i] = "PKZS"[i]
			}
		}
		parts = append(parts, k.ID+":"+string(b))
	}
	return strings.Join(parts, " ")
}

// checkInvariants holds what a validator needs at every moment: a published
// key signs the key set and one signs the zone; every algorithm of the
// DNSKEY RRset signs both (RFC 4035 section 2.2); every submitted key is
// published (a DS must name a key that is there).
func checkInvariants(t *testing.T, label string, s *State) {
	t.Helper()
	keysBy, zoneBy, published := map[uint8]bool{}, map[uint8]bool{}, map[uint8]bool{}
	for _, k := range s.Keys {
		u := s.Use(k.ID)
		if u.SignKeys {
			keysBy[k.Algorithm] = true
		}
		if u.SignZone {
			zoneBy[k.Algorithm] = true
		}
		if u.Publish {
			published[k.Algorithm] = true
		}
		if u.Submit && !u.Publish {
			t.Errorf("%s: %s submitted but not published", label, k.ID)
		}
	}
	for alg := range published {
		if !keysBy[alg] || !zoneBy[alg] {
			t.Errorf("%s: algorithm %d published without signing everything: %s", label, alg, uses(s))
		}
	}
	if len(published) == 0 {
		t.Errorf("%s: no key published", label)
	}
}

// TestRollovers steps each kind of rollover with a moved clock and checks
// what every key does at each step, and that a step waits as long as RFC
// 7583 says, not a second less.
func TestRollovers(t *testing.T) {
	for _, tc := range rolloverCases() {
		t.Run(tc.name, func(t *testing.T) { stepThrough(t, tc) })
	}
}

// rolloverCase is one rollover stepped through by TestRollovers.
type rolloverCase struct {
	name    string
	split   bool
	start   func(s *State) // what starts the rollover
	steps   []string       // uses after each step, from the rollover's start
	waits   []time.Duration
	dsAfter int     // the step that waits for the DS
	timing  *Timing // instead of timing
}

func rolloverCases() []rolloverCase {
	dprp, key, maxTTL := policy.Propagation, timing.KeyTTL, timing.MaxTTL
	ds := policy.ParentPropagation + timing.DSTTL
	return []rolloverCase{
		{name: "zsk pre-publish", split: true, start: func(s *State) { s.Pending = RollZSK },
			steps: []string{
				"ksk1:PK-S zsk2:P-Z- zsk3:P---",
				"ksk1:PK-S zsk2:P--- zsk3:P-Z-",
				"ksk1:PK-S zsk2:---- zsk3:P-Z-",
			}, waits: []time.Duration{dprp + key, dprp + maxTTL}, dsAfter: -1},
		{name: "ksk double-ksk", split: true, start: func(s *State) { s.Pending = RollKSK },
			steps: []string{
				"ksk1:PK-S zsk2:P-Z- ksk3:PK--",
				"ksk1:PK-- zsk2:P-Z- ksk3:PK-S",
				"ksk1:---- zsk2:P-Z- ksk3:PK-S",
			}, waits: []time.Duration{dprp + key, ds}, dsAfter: 1},
		{name: "csk", start: func(s *State) { s.Pending = RollCSK },
			steps: []string{
				"csk1:PKZS csk2:PK--",
				"csk1:PK-- csk2:PKZS",
				"csk1:---- csk2:PKZS",
			}, waits: []time.Duration{dprp + key, ds}, dsAfter: 1},
		// The old CSK's signatures over the zone outlive the DS wait: it
		// stays published until they expired too.
		{name: "csk, zone TTLs above the DS TTL", start: func(s *State) { s.Pending = RollCSK },
			timing: &Timing{KeyTTL: time.Hour, MaxTTL: 72 * time.Hour, DSTTL: time.Hour},
			steps: []string{
				"csk1:PKZS csk2:PK--",
				"csk1:PK-- csk2:PKZS",
				"csk1:---- csk2:PKZS",
			}, waits: []time.Duration{dprp + key, dprp + 72*time.Hour}, dsAfter: 1},
		{name: "algorithm csk", start: func(s *State) { s.Algorithm = ed },
			steps: []string{
				"csk1:PKZS csk2:-KZ-",
				"csk1:PKZS csk2:PKZ-",
				"csk1:PKZ- csk2:PKZS",
				"csk1:-KZ- csk2:PKZS",
				"csk1:---- csk2:PKZS",
			}, waits: []time.Duration{dprp + maxTTL, dprp + key, ds, dprp + key}, dsAfter: 2},
		{name: "algorithm split", split: true, start: func(s *State) { s.Algorithm = ed },
			steps: []string{
				"ksk1:PK-S zsk2:P-Z- ksk3:-K-- zsk4:--Z-",
				"ksk1:PK-S zsk2:P-Z- ksk3:PK-- zsk4:P-Z-",
				"ksk1:PK-- zsk2:P-Z- ksk3:PK-S zsk4:P-Z-",
				"ksk1:-K-- zsk2:--Z- ksk3:PK-S zsk4:P-Z-",
				"ksk1:---- zsk2:---- ksk3:PK-S zsk4:P-Z-",
			}, waits: []time.Duration{dprp + maxTTL, dprp + key, ds, dprp + key}, dsAfter: 2},
		{name: "csk to split", split: true, start: func(s *State) {},
			steps: []string{
				"csk1:PKZS zsk2:P---",
				"csk1:PK-S zsk2:P-Z-",
				"csk1:PK-S zsk2:P-Z-",
			}, waits: []time.Duration{dprp + key, dprp + maxTTL}, dsAfter: -1},
	}
}

// stepThrough steps tc from its start to its end and past the removal of
// its retired keys, checking every key's use and every wait.
func stepThrough(t *testing.T, tc rolloverCase) {
	p, timing := policy, timing
	if tc.timing != nil {
		timing = *tc.timing
	}
	p.Split = tc.split
	initial := p
	if tc.name == "csk to split" {
		initial.Split = false
	}
	s, n, now := &State{}, 0, t0
	s.AddInitial(keysFor(Initial(initial, s), now, &n))
	if kind, _ := s.Plan(p, now); kind != 0 && tc.name != "csk to split" {
		t.Fatalf("a rollover (%s) is due with nothing asked", kind)
	}
	tc.start(s)
	kind, needs := s.Plan(p, now)
	if kind == 0 {
		t.Fatal("no rollover planned")
	}
	s.Begin(kind, keysFor(needs, now, &n), now)
	seenDS := false
	dsSeen := func(ids []string) bool {
		if len(ids) == 0 {
			t.Error("the DS is asked for no key")
		}
		return seenDS
	}
	for i, want := range tc.steps {
		if got := uses(s); got != want {
			t.Fatalf("step %d: %s, want %s", i, got, want)
		}
		checkInvariants(t, fmt.Sprintf("step %d", i), s)
		if i == len(tc.waits) {
			break
		}
		if i == tc.dsAfter {
			// Nothing moves until the parent has the DS, however long.
			now = now.Add(30 * 24 * time.Hour)
			if s.Advance(p, timing, now, dsSeen) {
				t.Fatalf("step %d ended without the DS at the parent", i)
			}
			if _, waiting := s.Next(p, timing); !waiting {
				t.Errorf("step %d: Next does not say it waits for the DS", i)
			}
			seenDS = true
			if !s.Advance(p, timing, now, dsSeen) || s.Roll == nil || s.Roll.Step != i {
				t.Fatalf("step %d: the DS seen is not recorded (or the step ended at once)", i)
			}
		}
		at, _ := s.Next(p, timing)
		if wantAt := now.Add(tc.waits[i]); !at.Equal(wantAt) {
			t.Errorf("step %d: next at %v, want %v", i, at, wantAt)
		}
		if s.Advance(p, timing, at.Add(-time.Second), dsSeen) {
			t.Fatalf("step %d ended a second early", i)
		}
		now = at
		if !s.Advance(p, timing, now, dsSeen) {
			t.Fatalf("step %d did not end at %v", i, now)
		}
	}
	if s.Roll != nil {
		t.Fatalf("rollover still in progress: %s", s)
	}
	if kind, _ := s.Plan(p, now); kind != 0 {
		t.Errorf("another rollover (%s) planned after the first", kind)
	}
	// The retired keys go once their records expired, not before.
	at, _ := s.Next(p, timing)
	retired := slices.ContainsFunc(s.Keys, func(k Key) bool { return k.Retired })
	if retired != !at.IsZero() {
		t.Fatalf("retired %v, next %v", retired, at)
	}
	if retired {
		if gone := s.Expire(at.Add(-time.Second)); len(gone) != 0 {
			t.Errorf("removed early: %v", gone)
		}
		if gone := s.Expire(at); len(gone) == 0 {
			t.Error("retired key not removed")
		}
	}
}

// TestLifetimes: a key past its lifetime starts its rollover on its own;
// without lifetimes nothing ever does.
func TestLifetimes(t *testing.T) {
	p := policy
	s, n := &State{}, 0
	s.AddInitial(keysFor(Initial(p, s), t0, &n))
	if at, _ := s.Next(p, timing); !at.IsZero() {
		t.Errorf("next %v without lifetimes", at)
	}
	if kind, _ := s.Plan(p, t0.Add(10*365*24*time.Hour)); kind != 0 {
		t.Errorf("rollover %s without lifetimes", kind)
	}
	p.Split, p.ZSKLifetime, p.KSKLifetime = true, 30*24*time.Hour, 365*24*time.Hour
	s, n = &State{}, 0
	s.AddInitial(keysFor(Initial(p, s), t0, &n))
	at, _ := s.Next(p, timing)
	if want := t0.Add(p.ZSKLifetime); !at.Equal(want) {
		t.Errorf("next %v, want the ZSK's lifetime %v", at, want)
	}
	if kind, _ := s.Plan(p, at.Add(-time.Second)); kind != 0 {
		t.Errorf("rollover %s before the lifetime", kind)
	}
	if kind, needs := s.Plan(p, at); kind != RollZSK || len(needs) != 1 || needs[0].Role != ZSK {
		t.Errorf("at the ZSK's lifetime: %s %v", kind, needs)
	}
	if kind, _ := s.Plan(p, t0.Add(p.KSKLifetime)); kind != RollZSK {
		t.Errorf("both due: %s first, want the ZSK", kind)
	}
}

// TestStateUseOfUnknownKey: a key the state does not list does nothing
// (one made before a crash, never recorded).
func TestStateUseOfUnknownKey(t *testing.T) {
	s := &State{}
	s.AddInitial([]Key{{ID: "a", Algorithm: p256, Role: CSK, Created: t0}})
	if u := s.Use("b"); u != (sign.Use{}) {
		t.Errorf("unknown key: %+v", u)
	}
	c := s.Clone()
	c.Keys[0].Retired = true
	if s.Keys[0].Retired {
		t.Error("Clone shares the keys")
	}
}
