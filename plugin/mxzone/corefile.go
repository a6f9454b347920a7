package mxzone

import (
	"fmt"
	"os"

	"github.com/coredns/caddy"
	"github.com/coredns/caddy/caddyfile"
)

// FromCorefile reads the rule severities and limits of the mxzone block of a
// Corefile, exactly as the server's setup reads them (the same parse, the
// same errors with their Corefile line), for `coredns-mx check --conf`.
// A Corefile with mxzone in more than one server block is refused: the
// blocks may differ, and the checker would have to guess which one is meant.
func FromCorefile(path string) (Policy, Limits, error) {
	f, err := os.Open(path)
	if err != nil {
		return Policy{}, Limits{}, err
	}
	defer f.Close()
	blocks, err := caddyfile.Parse(path, f, nil)
	if err != nil {
		return Policy{}, Limits{}, err
	}
	var found *caddyfile.ServerBlock
	for i := range blocks {
		if _, ok := blocks[i].Tokens[pluginName]; !ok {
			continue
		}
		if found != nil {
			return Policy{}, Limits{}, fmt.Errorf("%s: %s is in more than one server block", path, pluginName)
		}
		found = &blocks[i]
	}
	if found == nil {
		return Policy{}, Limits{}, fmt.Errorf("%s: no %s block", path, pluginName)
	}
	// The controller of caddy's own parsing, given this block's tokens: setup's
	// parse needs no more of it than the server block's keys.
	c := caddy.NewTestController("dns", "")
	c.Dispenser = caddyfile.NewDispenserTokens(path, found.Tokens[pluginName])
	c.ServerBlockKeys = found.Keys
	m, err := parse(c)
	if err != nil {
		return Policy{}, Limits{}, err
	}
	return m.loader.policy, m.loader.limits, nil
}
