package mxzone

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/rollover"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/sign"

	"github.com/miekg/dns"
)

// An operator's request for a zone's keys (coredns-mx dnssec roll or
// submitted) is a file in the key store's requests directory, written by
// the command and taken by the running server within a second: the key
// store is the server's alone, so whoever may write there may ask.

// requestDir is where the requests wait, in the key store dir.
func requestDir(keyDir string) string { return filepath.Join(keyDir, "requests") }

// RequestKeys leaves req for the server that keeps the keys in keyDir,
// for origin.
func RequestKeys(keyDir, origin string, req rollover.Request) error {
	dir := requestDir(keyDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	return sign.WriteFile(filepath.Join(dir, strings.ToLower(dns.Fqdn(origin))+"request"), data, true)
}

// KeyStatus is what coredns-mx dnssec status shows of origin's keys: each
// key's use, the rollover in progress and its next step, read from the
// key store in keyDir.
func KeyStatus(keyDir, origin string) (*ZoneKeys, error) {
	r := newKeyring(keyDir, 0)
	ks, err := r.load(dns.CanonicalName(origin))
	if err != nil {
		return nil, err
	}
	return ks.status(), nil
}

// PublishedKeys returns the DNSKEY records origin publishes now, read
// from the key store in keyDir.
func PublishedKeys(keyDir, origin string) []dns.RR {
	ks, err := newKeyring(keyDir, 0).load(dns.CanonicalName(origin))
	if err != nil {
		return nil
	}
	var out []dns.RR
	for _, ku := range ks.uses() {
		if ku.Publish {
			out = append(out, ku.DNSKEY)
		}
	}
	return out
}

// takeRequests applies the requests waiting at now, and signs their zones
// again in the next round.
func (m *MXZone) takeRequests(now time.Time) {
	r := m.signing.ring
	dir := requestDir(r.store.Dir)
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		return
	}
	took := map[string]bool{}
	var done []string
	for _, e := range entries {
		origin, ok := strings.CutSuffix(e.Name(), "request")
		if !ok {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if err := r.apply(origin, path, now); err != nil {
			log.Errorf("dnssec: %s: request not taken: %v", origin, err)
		} else {
			took[origin] = true
		}
		done = append(done, path)
	}
	// The states written, durable at once; then the requests go.
	if err := syncFS(r.store.Dir); err != nil {
		log.Errorf("dnssec: key store %s: %v", r.store.Dir, err)
		return
	}
	for _, path := range done {
		os.Remove(path)
	}
	if len(took) > 0 {
		log.Infof("dnssec: %d requests taken: %s", len(took), someNames(slices.Sorted(maps.Keys(took))))
		r.resignLater(took)
	}
}

// apply takes the request in path for origin.
func (r *keyring) apply(origin, path string, now time.Time) error {
	if _, ok := dns.IsDomainName(origin); !ok {
		return fmt.Errorf("%q is not a domain name", origin)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var req rollover.Request
	if err := json.Unmarshal(data, &req); err != nil {
		return err
	}
	mu := r.lock(origin)
	mu.Lock()
	defer mu.Unlock()
	ks, err := r.load(origin)
	if err != nil {
		return err
	}
	if len(ks.keys) == 0 {
		return fmt.Errorf("the zone has no key: it is not signed here")
	}
	if err := ks.state.Apply(req, r.policy, now); err != nil {
		return err
	}
	return r.save(origin, ks.state, true) // lazy: takeRequests syncs them all
}
