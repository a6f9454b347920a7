package mxzone

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/rollover"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/sign"

	"github.com/miekg/dns"
)

// keyring is the keys of every signed zone and their rollovers: the key
// store, each zone's rollover state beside its keys (rolloverFile), and
// the policy of the Corefile. A zone with no state file has never rolled:
// each key it has is in service as its flags say, as before rollovers
// existed, and nothing is written for it unless something happens.
type keyring struct {
	store  sign.Store
	policy rollover.Policy
	// dsTTL is the TTL of the DS at a parent this server does not serve;
	// parents lists the servers asked for it (none: the operator says it
	// is there, with coredns-mx dnssec submitted), every dsEvery.
	dsTTL   time.Duration
	parents []string
	dsEvery time.Duration
	// noChildDS lists the zones whose DS their served parent does not
	// publish on its own.
	noChildDS []string

	locks [64]sync.Mutex
	// nextAt is the earliest time (unix nanoseconds, 0: none) a signed
	// zone has a rollover step due: the refresh loop wakes for it.
	nextAt atomic.Int64
	// submitted collects the zones whose DS is to change (their keys for
	// the parent changed): their served parents are signed again.
	// resign collects the zones to sign again soon (an operator's request,
	// or past the bound of a round). wake tells the refresh loop.
	mu        sync.Mutex
	submitted map[string]bool
	resign    map[string]bool
	wake      chan struct{}
	// requests maps a zone to its operator's request file, taken by the
	// zone's next signing; applied lists the files of requests taken and
	// saved lazily, removed once the key store is synced.
	requests map[string]string
	applied  []string
	// parentDS tells what the served parent of a zone serves as its DS:
	// its records, whether the parent is served and signed here,
	// and the TTL a DS of its own would have there.
	parentDS func(child string) ([]dns.RR, uint32, bool)
}

// rolloverFile is the name of a zone's rollover state in its key
// directory.
const rolloverFile = "rollover.json"

// defaults of the rollover policy, as Knot DNS has them.
const (
	defaultPropagation = time.Hour
	defaultDSTTL       = 24 * time.Hour
	defaultDSEvery     = 10 * time.Minute
)

func newKeyring(dir string, alg uint8) *keyring {
	return &keyring{store: sign.Store{Dir: dir}, dsTTL: defaultDSTTL, dsEvery: defaultDSEvery, wake: make(chan struct{}, 1),
		policy: rollover.Policy{Algorithm: alg, Propagation: defaultPropagation, ParentPropagation: defaultPropagation}}
}

func (r *keyring) lock(origin string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(origin))
	return &r.locks[h.Sum32()%uint32(len(r.locks))]
}

// keyState is a zone's keys and what the rollover says of them.
type keyState struct {
	keys  []*sign.Key
	state *rollover.State
	saved bool // the state is in its file
}

// load reads origin's keys and rollover state. Without a state file, each
// key is in service: a CSK, or a ZSK if its flags say so.
func (r *keyring) load(origin string) (*keyState, error) {
	// The state before the keys: the server writes a new key before the
	// state that names it (and removes a file only after the state marked
	// it retired), so a reader beside it (coredns-mx dnssec status) never
	// sees a state naming a key whose file it did not read.
	data, err := os.ReadFile(filepath.Join(r.store.ZoneDir(origin), rolloverFile))
	keys, kerr := r.store.Existing(origin)
	if kerr != nil {
		return nil, kerr
	}
	ks := &keyState{keys: keys, state: &rollover.State{}}
	switch {
	case err == nil:
		if err := json.Unmarshal(data, ks.state); err != nil {
			return nil, fmt.Errorf("dnssec: %s: %w", filepath.Join(r.store.ZoneDir(origin), rolloverFile), err)
		}
		ks.saved = true
	case errors.Is(err, fs.ErrNotExist):
		for _, k := range keys {
			role := rollover.CSK
			if k.DNSKEY.Flags&dns.SEP == 0 {
				role = rollover.ZSK
			}
			// Its age is counted from the first time it matters.
			ks.state.Keys = append(ks.state.Keys, rollover.Key{ID: k.ID(), Algorithm: k.DNSKEY.Algorithm, Role: role, Created: time.Now()})
		}
	default:
		return nil, fmt.Errorf("dnssec: %w", err)
	}
	for _, k := range ks.state.Keys {
		if !k.Retired && !slices.ContainsFunc(keys, func(x *sign.Key) bool { return x.ID() == k.ID }) {
			return nil, fmt.Errorf("dnssec: %s: key %s is in the rollover state but its file is missing", origin, k.ID)
		}
	}
	return ks, nil
}

// save writes origin's rollover state before anything signed with it is
// served: synced, or (lazy) for the caller to sync with others at once.
func (r *keyring) save(origin string, st *rollover.State, lazy bool) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return sign.WriteFile(filepath.Join(r.store.ZoneDir(origin), rolloverFile), data, !lazy)
}

// keysAt returns the keys of origin and their use at now, with t the
// zone's timing: a zone with no key gets its first ones; a rollover step
// whose wait is over is taken, one the policy or the operator asks for is
// begun, and retired keys whose records expired are removed. Whatever
// changed is saved before it returns. next is when to look again (zero:
// nothing scheduled).
func (r *keyring) keysAt(origin string, t rollover.Timing, now time.Time, lazy bool) ([]sign.KeyUse, time.Time, error) {
	mu := r.lock(origin)
	mu.Lock()
	defer mu.Unlock()
	ks, err := r.load(origin)
	if err != nil {
		return nil, time.Time{}, err
	}
	before := submittedIDs(ks.state)
	request := r.takeRequest(origin, ks, now)
	changed, err := r.step(origin, ks, t, now, lazy)
	if err != nil {
		return nil, time.Time{}, err
	}
	changed = changed || request != ""
	next, waiting := ks.state.Next(r.policy, t)
	if !next.Equal(ks.state.NextAt) && ks.saved {
		changed = true
	}
	ks.state.NextAt = next
	if changed {
		if err := r.save(origin, ks.state, lazy); err != nil {
			return nil, time.Time{}, err
		}
		log.Infof("dnssec: %s: %s", origin, ks.state)
	}
	r.requestDone(request, lazy)
	if !slices.Equal(before, submittedIDs(ks.state)) {
		r.markSubmitted(origin)
	}
	if waiting && (next.IsZero() || now.Add(r.dsEvery).Before(next)) {
		next = now.Add(r.dsEvery)
	}
	r.noteNext(next)
	return ks.uses(), next, nil
}

// step does to ks what is due at now and reports whether its state
// changed.
func (r *keyring) step(origin string, ks *keyState, t rollover.Timing, now time.Time, lazy bool) (bool, error) {
	st := ks.state
	if len(st.Keys) == 0 {
		// The zone's first keys. The default (one CSK) is made as before,
		// without a state file: a batch made at the first start is synced
		// at once by the caller.
		needs := rollover.Initial(r.policy, st)
		if len(needs) == 1 && needs[0].Role == rollover.CSK && !r.lifetimes() {
			k, err := (sign.Store{Dir: r.store.Dir, Lazy: lazy}).Keys(origin, needs[0].Algorithm)
			if err != nil {
				return false, err
			}
			ks.keys = k
			st.AddInitial([]rollover.Key{{ID: k[0].ID(), Algorithm: needs[0].Algorithm, Role: rollover.CSK, Created: now}})
			return false, nil
		}
		made, err := r.make(origin, ks, needs, now, lazy)
		if err != nil {
			return false, err
		}
		st.AddInitial(made)
		return true, nil
	}
	changed := !ks.saved && r.lifetimes() // the keys' ages are kept from now on
	if st.Advance(r.policy, t, now, func(ids []string) bool { return r.dsSeen(origin, ks, ids) }) {
		changed = true
	}
	if kind, needs := st.Plan(r.policy, now); kind != 0 {
		made, err := r.make(origin, ks, needs, now, lazy)
		if err != nil {
			return false, err
		}
		st.Begin(kind, made, now)
		changed = true
	}
	for _, id := range st.Expire(now) {
		if err := r.store.Remove(origin, id); err != nil {
			return false, err
		}
		changed = true
	}
	return changed, nil
}

// lifetimes reports whether keys roll on their own: a state file is kept
// for every zone then, to know each key's age.
func (r *keyring) lifetimes() bool {
	return r.policy.KSKLifetime > 0 || r.policy.ZSKLifetime > 0 || r.policy.Split
}

// make makes and saves the keys needs asks for.
func (r *keyring) make(origin string, ks *keyState, needs []rollover.Need, now time.Time, lazy bool) ([]rollover.Key, error) {
	var out []rollover.Key
	store := sign.Store{Dir: r.store.Dir, Lazy: lazy}
	for _, n := range needs {
		k, err := store.Add(origin, n.Algorithm, n.Role.Flags(), func(id string) bool { return ks.state.Key(id) != nil })
		if err != nil {
			return nil, err
		}
		ks.keys = append(ks.keys, k)
		out = append(out, rollover.Key{ID: k.ID(), Algorithm: n.Algorithm, Role: n.Role, Created: now})
	}
	return out, nil
}

// uses pairs each key with what it does now; keys that do nothing (retired,
// or made before a crash and never recorded) are left out.
func (ks *keyState) uses() []sign.KeyUse {
	var out []sign.KeyUse
	for _, k := range ks.keys {
		if u := ks.state.Use(k.ID()); u != (sign.Use{}) {
			out = append(out, sign.KeyUse{Key: k, Use: u})
		}
	}
	return out
}

// submittedIDs lists the keys whose DS the parent is to have.
func submittedIDs(st *rollover.State) []string {
	var out []string
	for _, k := range st.Keys {
		if st.Use(k.ID).Submit {
			out = append(out, k.ID)
		}
	}
	return out
}

// noteNext lowers the time the refresh loop next wakes to at, if earlier,
// and wakes it to say so.
func (r *keyring) noteNext(at time.Time) {
	if at.IsZero() {
		return
	}
	for {
		cur := r.nextAt.Load()
		if cur != 0 && cur <= at.UnixNano() {
			return
		}
		if r.nextAt.CompareAndSwap(cur, at.UnixNano()) {
			r.poke()
			return
		}
	}
}

// poke wakes the refresh loop.
func (r *keyring) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// markSubmitted records that the DS the parents of origins are to have
// may have changed (their keys for the parent, or the zones signed,
// added or gone): the refresh loop looks at their parents.
func (r *keyring) markSubmitted(origins ...string) {
	if len(origins) == 0 {
		return
	}
	r.mu.Lock()
	if r.submitted == nil {
		r.submitted = map[string]bool{}
	}
	for _, o := range origins {
		r.submitted[o] = true
	}
	r.mu.Unlock()
	r.poke()
}

// resignLater records zones to sign again in the next round.
func (r *keyring) resignLater(origins map[string]bool) {
	r.mu.Lock()
	if r.resign == nil {
		r.resign = map[string]bool{}
	}
	for o := range origins {
		r.resign[o] = true
	}
	r.mu.Unlock()
	r.poke()
}

// takeSubmitted returns and forgets the zones markSubmitted recorded.
func (r *keyring) takeSubmitted() []string { return r.take(&r.submitted) }

// takeResign returns and forgets the zones resignLater recorded.
func (r *keyring) takeResign() []string { return r.take(&r.resign) }

func (r *keyring) take(set *map[string]bool) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(*set))
	for o := range *set {
		out = append(out, o)
	}
	*set = nil
	slices.Sort(out)
	return out
}

// childDS returns the DS records (SHA-256) of the keys origin submits to
// its parent now; nil when it has none or is left out (noChildDS).
func (r *keyring) childDS(origin string, ttl uint32) []dns.RR {
	for _, z := range r.noChildDS {
		if z == origin {
			return nil
		}
	}
	mu := r.lock(origin)
	mu.Lock()
	ks, err := r.load(origin)
	mu.Unlock()
	if err != nil {
		return nil
	}
	var out []dns.RR
	for _, ku := range ks.uses() {
		if ku.Submit {
			ds := ku.DNSKEY.ToDS(dns.SHA256)
			ds.Hdr = dns.RR_Header{Name: origin, Rrtype: dns.TypeDS, Class: dns.ClassINET, Ttl: ttl}
			out = append(out, ds)
		}
	}
	return out
}
