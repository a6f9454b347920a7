package mxzone

import (
	"strings"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/rollover"

	"github.com/miekg/dns"
)

// ZoneKeys is what the status API and coredns-mx dnssec status show of a
// zone's keys.
type ZoneKeys struct {
	Keys     []ZoneKey `json:"keys"`
	Rollover string    `json:"rollover"`            // the rollover in progress, or "no rollover in progress"
	NextStep string    `json:"next_step,omitempty"` // what its next step does
	// NextAt is when the next step (or a key's lifetime, or a retired
	// key's removal) is due; absent when nothing is scheduled or the step
	// waits for the parent's DS.
	NextAt *time.Time `json:"next_at,omitempty"`
}

// ZoneKey is one key of a zone.
type ZoneKey struct {
	ID        string     `json:"id"`
	Tag       uint16     `json:"tag"`
	Algorithm string     `json:"algorithm"`
	Role      string     `json:"role"`
	Created   time.Time  `json:"created,omitzero"`
	Use       string     `json:"use"` // "published, signs keys, signs zone, submitted", or "retired"
	RemoveAt  *time.Time `json:"remove_at,omitempty"`
	DS        string     `json:"ds,omitempty"` // for a key of the parent's DS
}

// status shows ks.
func (ks *keyState) status() *ZoneKeys {
	st := ks.state
	out := &ZoneKeys{Keys: []ZoneKey{}, Rollover: st.String(), NextStep: st.NextStep()}
	if st.Pending != 0 {
		out.NextStep = st.Pending.String() + " rollover asked for: it starts when the zone is next signed"
	}
	if !st.NextAt.IsZero() {
		at := st.NextAt.UTC()
		out.NextAt = &at
	}
	for _, k := range ks.keys {
		sk := st.Key(k.ID())
		if sk == nil {
			continue // made before a crash and never used
		}
		zk := ZoneKey{ID: sk.ID, Tag: k.Tag(), Algorithm: dns.AlgorithmToString[k.DNSKEY.Algorithm], Role: sk.Role.String(),
			Created: sk.Created.UTC(), Use: useText(st, sk)}
		if sk.Retired {
			at := sk.Remove.UTC()
			zk.RemoveAt = &at
		}
		if sk.Role != rollover.ZSK {
			zk.DS = k.DNSKEY.ToDS(dns.SHA256).String()
		}
		out.Keys = append(out.Keys, zk)
	}
	return out
}

// useText says what key k of st does now.
func useText(st *rollover.State, k *rollover.Key) string {
	if k.Retired {
		return "retired"
	}
	u := st.Use(k.ID)
	var parts []string
	for _, p := range []struct {
		on   bool
		what string
	}{{u.Publish, "published"}, {u.SignKeys, "signs keys"}, {u.SignZone, "signs zone"}, {u.Submit, "submitted"}} {
		if p.on {
			parts = append(parts, p.what)
		}
	}
	if len(parts) == 0 {
		return "made, not yet used"
	}
	return strings.Join(parts, ", ")
}
