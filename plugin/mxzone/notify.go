package mxzone

import (
	"context"
	"sync"
	"time"
)

// notifyWorkers is how many NOTIFY exchanges run at once: a secondary that
// does not answer costs each of them a few seconds (3 tries), and the others
// go on.
const notifyWorkers = 8

// notifier sends NOTIFY (RFC 1996) for zones whose served version changed,
// through the transfer plugin, in the background: a reload never waits for
// a secondary. A zone queued again before its NOTIFY went out is sent once.
type notifier struct {
	send func(zone string) error // the transfer plugin's Notify
	mu   sync.Mutex
	todo []string           // edits: sent first
	bulk []string           // the start-up backlog: sent when no edit waits
	in   map[string]urgency // the queue each waiting zone is in
	wake chan struct{}

	failMu   sync.Mutex
	failed   int       // failures since the last log line
	lastLog  time.Time // when a failure was last logged
	firstErr error
}

func newNotifier(send func(string) error) *notifier {
	return &notifier{send: send, in: map[string]urgency{}, wake: make(chan struct{}, 1)}
}

// urgency says which queue a zone waits in.
type urgency int8

const (
	inBulk urgency = iota + 1
	inTodo
)

// add queues zones for a NOTIFY, ahead of the start-up backlog (a zone
// waiting in the backlog moves ahead).
func (n *notifier) add(zones ...string) {
	if n != nil {
		n.queue(&n.todo, inTodo, zones)
	}
}

// addBulk queues zones for a NOTIFY behind every edit.
func (n *notifier) addBulk(zones ...string) {
	if n != nil {
		n.queue(&n.bulk, inBulk, zones)
	}
}

func (n *notifier) queue(list *[]string, u urgency, zones []string) {
	if len(zones) == 0 {
		return
	}
	n.mu.Lock()
	for _, z := range zones {
		if n.in[z] < u {
			n.in[z] = u
			*list = append(*list, z)
		}
	}
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// next takes the oldest queued zone, edits first, and wakes another worker
// if more are waiting.
func (n *notifier) next() (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for {
		list, u := &n.todo, inTodo
		if len(n.todo) == 0 {
			n.todo = nil // let a large backlog's array go
			list, u = &n.bulk, inBulk
		}
		if len(*list) == 0 {
			n.bulk = nil
			return "", false
		}
		z := (*list)[0]
		*list = (*list)[1:]
		if n.in[z] != u {
			continue // moved ahead, and sent from there
		}
		delete(n.in, z)
		if len(n.todo)+len(n.bulk) > 0 {
			select {
			case n.wake <- struct{}{}:
			default:
			}
		}
		return z, true
	}
}

// run sends the queued notifies until ctx ends.
func (n *notifier) run(ctx context.Context, server string) {
	var wg sync.WaitGroup
	for range notifyWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				z, ok := n.next()
				if !ok {
					select {
					case <-ctx.Done():
						return
					case <-n.wake:
						continue
					}
				}
				if ctx.Err() != nil {
					return
				}
				err := n.send(z)
				notifies.WithLabelValues(server, resultOf(err)).Inc()
				if err != nil {
					n.failure(err)
				}
			}
		}()
	}
	wg.Wait()
}

func resultOf(err error) string {
	if err != nil {
		return "failed"
	}
	return "sent"
}

// failure logs failed notifies at most once every 10 s, with their count,
// so that a secondary that is down does not flood the log.
func (n *notifier) failure(err error) {
	n.failMu.Lock()
	defer n.failMu.Unlock()
	n.failed++
	if n.firstErr == nil {
		n.firstErr = err
	}
	if time.Since(n.lastLog) < 10*time.Second {
		return
	}
	log.Warningf("NOTIFY: %d not accepted, for example: %v", n.failed, n.firstErr)
	n.failed, n.firstErr, n.lastLog = 0, nil, time.Now()
}

// Which zones get a NOTIFY, and when, is decided below and nowhere else.

// notifyLoaded queues the NOTIFYs of the first load: the catalog, which
// secondaries provisioned by it read first, and, without a state directory
// (nothing tells which zones changed while the server was down), every
// served zone behind any edit. With a state directory the zones whose file
// is newer than their saved copy follow once the copies are written
// (notifyStale).
func (m *MXZone) notifyLoaded(g *generation) {
	if m.notify == nil {
		return
	}
	if m.catalog != nil {
		m.notify.add(m.catalog.origin)
	}
	if m.state == nil {
		m.notify.addBulk(catalogMembers(g)...)
	}
}

// notifyStale queues a NOTIFY, behind any edit, for the zones whose file
// changed while the server was down, or that were first seen.
func (m *MXZone) notifyStale(origins []string) { m.notify.addBulk(origins...) }

// notifyCatalog queues a NOTIFY for a rebuilt catalog.
func (m *MXZone) notifyCatalog() { m.notify.add(m.catalog.origin) }

// notifyChanged queues a NOTIFY for every zone whose served version changed
// from prev to next. A new file is announced by the catalog's NOTIFY alone
// when there is a catalog: secondaries do not know the zone before that.
func (m *MXZone) notifyChanged(prev, next *generation, rep *report) {
	if m.notify == nil {
		return
	}
	var zones []string
	for _, ch := range rep.changes {
		origin := ch.entry.origin
		e := next.zones[origin]
		if e == nil || e.zone == nil {
			continue
		}
		old := prev.zones[origin]
		if old != nil && old.zone == e.zone || old == nil && m.catalog != nil {
			continue
		}
		zones = append(zones, origin)
		if old != nil && old.zone != nil && !serialNewer(e.zone.served().Serial(), old.zone.served().Serial()) {
			log.Warningf("%s: zone %s changed but its SOA serial %d is not newer than %d: secondaries keep the old version until the serial increases",
				e.file, origin, e.zone.served().Serial(), old.zone.served().Serial())
		}
	}
	m.notify.add(zones...)
}
