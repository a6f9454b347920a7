package mxzone

import (
	"io/fs"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/update"
)

// policyCache holds the policy files as last parsed, by path, with the
// stat they had then, so that a change of one file among a million reads
// that file only: when the policy directory changes, when a new server
// instance reads the keys at setup (for a new key), and when it starts.
// It is process-wide because the instances are (see live); a Policy never
// changes once parsed.
var policyCache struct {
	mu sync.Mutex
	by map[string]cachedPolicy
}

type cachedPolicy struct {
	stamp policyStamp
	p     *update.Policy
	err   error
}

// policyStamp tells a file's versions apart: another inode (a rename into
// place), size, modification or change time.
type policyStamp struct {
	ino                uint64
	size, mtime, ctime int64
}

// cachedPolicyFile returns the parsed policy file e of dir, reading it only
// when it changed since it was last read.
func cachedPolicyFile(dir string, e fs.DirEntry, origin string) (*update.Policy, fs.FileInfo, error) {
	info, err := e.Info()
	if err != nil {
		return nil, nil, err
	}
	var stamp policyStamp
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		stamp = policyStamp{ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
	}
	path := filepath.Join(dir, e.Name())
	policyCache.mu.Lock()
	c, ok := policyCache.by[path]
	policyCache.mu.Unlock()
	if ok && c.stamp == stamp && stamp != (policyStamp{}) {
		return c.p, info, c.err
	}
	p, err := readPolicy(dir, e.Name(), origin)
	policyCache.mu.Lock()
	if policyCache.by == nil {
		policyCache.by = map[string]cachedPolicy{}
	}
	policyCache.by[path] = cachedPolicy{stamp: stamp, p: p, err: err}
	policyCache.mu.Unlock()
	return p, info, err
}
