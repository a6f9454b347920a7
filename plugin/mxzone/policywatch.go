package mxzone

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/caddy"

	"github.com/fsnotify/fsnotify"
)

// policySettle is how long the policy directory must be quiet after an
// event before its files are read again: an editor's write-and-rename is
// one change, and a new key is taken well within a second.
const policySettle = 100 * time.Millisecond

// policyPoll is how often the policy directory is read again without
// events (a watch that could not be set up, or an event lost).
const policyPoll = 30 * time.Second

// watchPolicies reads the policy files again whenever the directory
// changes. A grant or a removed key takes effect at once; a new key, or a
// new secret for one, needs a new server instance (the DNS server checks
// MACs with the secrets it started with), which is started in-process as
// the reload plugin does.
func (m *MXZone) watchPolicies(ctx context.Context) {
	u := m.updates
	w, err := fsnotify.NewWatcher()
	var events chan fsnotify.Event
	var errs chan error
	if err == nil {
		if err = w.Add(u.dir); err == nil {
			events, errs = w.Events, w.Errors
		}
		defer w.Close()
	}
	if err != nil {
		log.Warningf("update: cannot watch %s (%v); reading it every %s", u.dir, err, policyPoll)
	}
	poll := time.NewTicker(policyPoll)
	defer poll.Stop()
	settle := stoppedTimer()
	defer settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			settle.Reset(policySettle)
		case <-errs:
			settle.Reset(policySettle)
		case <-settle.C:
			m.policiesChanged()
		case <-poll.C:
			m.policiesChanged()
		}
	}
}

// policiesChanged reads the policy files and restarts the server instance
// if the keys changed.
func (m *MXZone) policiesChanged() {
	u := m.updates
	u.readPolicies()
	if !u.keysChanged() {
		return
	}
	inst := currentInstance.Load()
	if inst == nil {
		log.Warningf("update: TSIG keys changed in %s; they take effect when the server restarts", u.dir)
		return
	}
	if !m.restarting.CompareAndSwap(false, true) {
		return
	}
	log.Infof("update: TSIG keys changed in %s; restarting the server instance to take them", u.dir)
	go func() {
		if _, err := inst.Restart(inst.Caddyfile()); err != nil {
			log.Errorf("update: restart for the new keys failed: %v", err)
			m.restarting.Store(false)
		}
	}()
}

// currentInstance is the caddy instance serving now: the one a key change
// restarts. It is process-wide state because caddy hands it only to event
// hooks, as it does for the reload plugin.
var currentInstance atomic.Pointer[caddy.Instance]

var registerHook sync.Once

// watchInstances records every instance that starts.
func watchInstances() {
	registerHook.Do(func() {
		caddy.RegisterEventHook(pluginName, func(event caddy.EventName, info any) error {
			if inst, ok := info.(*caddy.Instance); ok && event == caddy.InstanceStartupEvent {
				currentInstance.Store(inst)
			}
			return nil
		})
	})
}
