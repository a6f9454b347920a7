package mxzone

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/update"
)

// policySuffix ends the name of a zone's policy file: POLICYDIR/ZONE.conf.
const policySuffix = ".conf"

// policyFile is one policy file of the directory as last read.
type policyFile struct {
	name, origin string
	policy       *update.Policy // nil: err
	err          error
	shared       bool // readable by others than the server's user
}

// policyFiles reads the policy files of dir, in name order (os.ReadDir's),
// each only if it changed since it was last read (policyCache).
func policyFiles(dir string) ([]policyFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []policyFile
	for _, e := range entries {
		origin, ok := policyOrigin(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		p, info, err := cachedPolicyFile(dir, e, origin)
		f := policyFile{name: e.Name(), origin: origin, policy: p, err: err}
		f.shared = err == nil && info.Mode().Perm()&0o077 != 0 && len(p.Keys) > 0
		out = append(out, f)
	}
	return out, nil
}

// readPolicies reads every policy file of the directory; a file with a
// problem gives its zone no policy (its updates are refused) and is logged
// once with its line.
func (u *updater) readPolicies() {
	files, err := policyFiles(u.dir)
	if err != nil {
		log.Errorf("update: policy directory: %v", err)
		return
	}
	policies := map[string]*update.Policy{}
	problems := map[string]string{}
	for _, f := range files {
		if f.err != nil {
			problems[f.name] = f.err.Error()
			continue
		}
		policies[f.origin] = f.policy
		if f.shared && !u.warned[f.name] {
			// Taken all the same (tsig-keygen's output is pasted as it is), but said once.
			u.warned[f.name] = true
			log.Warningf("update: %s holds TSIG secrets and is readable by others; chmod 600 it", filepath.Join(u.dir, f.name))
		}
	}
	u.mu.Lock()
	old := u.problems
	u.policies, u.problems = policies, problems
	u.mu.Unlock()
	for name, msg := range problems {
		if old[name] != msg {
			log.Errorf("update: %s; updates of its zone are refused until it is fixed", msg)
		}
	}
}

// policyOrigin is the zone a policy file name stands for.
func policyOrigin(name string) (string, bool) {
	base, ok := strings.CutSuffix(name, policySuffix)
	if !ok || base == "" || strings.HasPrefix(base, ".") {
		return "", false
	}
	origin := strings.ToLower(base)
	if !strings.HasSuffix(origin, ".") {
		origin += "."
	}
	return origin, true
}

// readPolicy reads one policy file inside dir (no symlink out of it).
func readPolicy(dir, name, origin string) (*update.Policy, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > 1<<20 {
		return nil, &update.Error{File: filepath.Join(dir, name), Line: 1, Msg: "policy file is larger than 1 MiB"}
	}
	data := make([]byte, st.Size())
	if _, err := f.Read(data); err != nil && st.Size() > 0 {
		return nil, err
	}
	return update.ParsePolicy(filepath.Join(dir, name), origin, data)
}

// policy is origin's policy; nil: none.
func (u *updater) policy(origin string) *update.Policy {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.policies[origin]
}

// keysChanged reports whether the policy files now define a key the server
// was not started with, or another secret for one: only a new server
// instance checks MACs with it (core/dnsserver copies the secrets when it
// starts). A key that is gone needs no restart: no grant names it.
func (u *updater) keysChanged() bool {
	u.mu.RLock()
	defer u.mu.RUnlock()
	for _, p := range u.policies {
		for _, k := range p.Keys {
			if s, ok := u.secrets[k.Name]; !ok || s != k.Secret {
				return true
			}
		}
	}
	return false
}

// serverSecrets reads the policy directory at setup and returns the keys
// for the DNS server; a key name that two files give different secrets is
// kept only from the first file (in name order) and logged.
func serverSecrets(dir string) map[string]string {
	files, err := policyFiles(dir)
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, f := range files {
		if f.err != nil {
			continue // logged by readPolicies
		}
		for _, k := range f.policy.Keys {
			if s, ok := out[k.Name]; ok && s != k.Secret {
				log.Errorf("update: %s:%d: key %q is defined with another secret in another policy file; this one is not used",
					f.policy.File, k.Line, k.Name)
				continue
			}
			out[k.Name] = k.Secret
		}
	}
	return out
}

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
