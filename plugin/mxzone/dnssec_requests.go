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

// takeRequests reads the requests waiting and has their zones signed
// again in the next round, which takes each (takeRequest): one state
// written per zone for the request and the step it starts. A request for
// a zone not signed here is refused at once.
func (m *MXZone) takeRequests() {
	r := m.signing.ring
	dir := requestDir(r.store.Dir)
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		return
	}
	g := m.gen.Load()
	if g == nil {
		return
	}
	took := map[string]bool{}
	r.mu.Lock()
	for _, e := range entries {
		origin, ok := strings.CutSuffix(e.Name(), "request")
		if !ok || r.requests[origin] != "" {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if e := g.zones[origin]; e == nil || e.zone == nil || e.zone.signed == nil {
			log.Errorf("dnssec: %s: request not taken: the zone is not served signed here", origin)
			os.Remove(path)
			continue
		}
		if r.requests == nil {
			r.requests = map[string]string{}
		}
		r.requests[origin] = path
		took[origin] = true
	}
	r.mu.Unlock()
	if len(took) > 0 {
		log.Infof("dnssec: %d requests read, taken as their zones are signed again: %s", len(took), someNames(slices.Sorted(maps.Keys(took))))
		r.resignLater(took)
	}
}

// takeRequest applies to ks, the keys of origin, its operator's request
// waiting, if any, and returns the request's file ("" with none or one
// refused, whose file is removed: the log says why). The caller holds
// origin's lock.
func (r *keyring) takeRequest(origin string, ks *keyState, now time.Time) string {
	r.mu.Lock()
	path := r.requests[origin]
	delete(r.requests, origin)
	r.mu.Unlock()
	if path == "" {
		return ""
	}
	err := applyRequest(ks, path, r.policy, now)
	if err != nil {
		log.Errorf("dnssec: %s: request not taken: %v", origin, err)
		os.Remove(path)
		return ""
	}
	return path
}

// requestDone removes the file of a request taken once the state it
// changed is durable: now, or (lazy) at the caller's sync of the key
// store (requestsSynced).
func (r *keyring) requestDone(path string, lazy bool) {
	switch {
	case path == "":
	case !lazy:
		os.Remove(path)
	default:
		r.mu.Lock()
		r.applied = append(r.applied, path)
		r.mu.Unlock()
	}
}

// requestsSynced removes the files of the requests whose states the sync
// of the key store just made durable.
func (r *keyring) requestsSynced() {
	r.mu.Lock()
	done := r.applied
	r.applied = nil
	r.mu.Unlock()
	for _, path := range done {
		os.Remove(path)
	}
}

// applyRequest takes the request in path into ks's state.
func applyRequest(ks *keyState, path string, p rollover.Policy, now time.Time) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var req rollover.Request
	if err := json.Unmarshal(data, &req); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if len(ks.keys) == 0 {
		return fmt.Errorf("the zone has no key: it is not signed here")
	}
	return ks.state.Apply(req, p, now)
}
