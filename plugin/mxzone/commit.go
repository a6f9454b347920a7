package mxzone

import "sync"

// groupCommit puts the journals on disk for many updates at once: each
// update writes its record, then waits for one syncfs (of the file system
// holding the journals) that started after its write. Updates of a thousand
// zones at once thus share a few syncs, as Knot's updates share a commit of
// its journal database, instead of one fdatasync each.
type groupCommit struct {
	dir  string                 // the journal directory; its file system is synced
	sync func(dir string) error // syncFS; a test's stand-in

	mu      sync.Mutex
	done    *sync.Cond
	next    uint64 // tickets handed out
	synced  uint64 // every ticket below this is on disk
	running bool
	err     error // of the last sync
}

func newGroupCommit(dir string) *groupCommit {
	c := &groupCommit{dir: dir, sync: syncFS}
	c.done = sync.NewCond(&c.mu)
	return c
}

// wait returns once everything written before it was called is on disk.
func (c *groupCommit) wait() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ticket := c.next
	c.next++
	for c.synced <= ticket {
		if c.running {
			c.done.Wait()
			continue
		}
		// This caller syncs for every ticket handed out so far.
		c.running = true
		target := c.next
		c.mu.Unlock()
		err := c.sync(c.dir)
		c.mu.Lock()
		c.running = false
		c.synced = max(c.synced, target)
		c.err = err
		c.done.Broadcast()
	}
	return c.err
}
