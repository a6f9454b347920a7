package mxzone

import (
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/coredns/caddy"
	"github.com/coredns/caddy/caddyfile"
)

// Settings are what the checker takes from a Corefile's mxzone block.
type Settings struct {
	Policy  Policy
	Limits  Limits
	Protect []string // the protected zones
	KeyDir  string   // the DNSSEC key store; "" without dnssec
	State   string   // the state directory; "" without state

	Dir      string   // the zone directory
	Journals string   // the zones' journals; "" without update
	includes []string // the includes patterns
}

// FromCorefile reads the rule severities, limits and protected zones of the
// mxzone block of a Corefile, exactly as the server's setup reads them (the same parse, the
// same errors with their Corefile line), for `coredns-mx check --conf`.
// A Corefile with mxzone in more than one server block is refused: the
// blocks may differ, and the checker would have to guess which one is meant.
func FromCorefile(path string) (Settings, error) {
	f, err := os.Open(path)
	if err != nil {
		return Settings{}, err
	}
	defer f.Close()
	blocks, err := caddyfile.Parse(path, f, nil)
	if err != nil {
		return Settings{}, err
	}
	var found *caddyfile.ServerBlock
	for i := range blocks {
		if _, ok := blocks[i].Tokens[pluginName]; !ok {
			continue
		}
		if found != nil {
			return Settings{}, fmt.Errorf("%s: %s is in more than one server block", path, pluginName)
		}
		found = &blocks[i]
	}
	if found == nil {
		return Settings{}, fmt.Errorf("%s: no %s block", path, pluginName)
	}
	// The controller of caddy's own parsing, given this block's tokens: setup's
	// parse needs no more of it than the server block's keys.
	c := caddy.NewTestController("dns", "")
	c.Dispenser = caddyfile.NewDispenserTokens(path, found.Tokens[pluginName])
	c.ServerBlockKeys = found.Keys
	m, err := parse(c)
	if err != nil {
		return Settings{}, err
	}
	set := Settings{Policy: m.loader.policy, Limits: m.loader.limits, Protect: slices.Sorted(maps.Keys(m.loader.protected)),
		Dir: m.loader.dir, includes: m.loader.includes}
	if m.updates != nil {
		set.Journals = m.updates.journals
	}
	if m.signing != nil {
		set.KeyDir = m.signing.ring.store.Dir
	}
	if m.state != nil {
		set.State = m.state.dir
	}
	return set, nil
}
