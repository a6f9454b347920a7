package mxzone

import (
	"bytes"
	"net/http"
	"sync"
)

// statusCache keeps the status answers built for one generation: a
// published generation never changes, so neither do they. A new
// generation empties it.
type statusCache struct {
	mu      sync.Mutex
	gen     *generation
	answers map[string]*cachedAnswer
	bytes   int
}

// statusCacheBytes bounds what the cache holds: answers are at most about
// 1 MiB each (statusPageBytes).
const statusCacheBytes = 32 << 20

// cachedAnswer is an answer as written.
type cachedAnswer struct {
	header http.Header
	code   int
	body   []byte
}

// get returns the answer for key built for g.
func (c *statusCache) get(g *generation, key string) (*cachedAnswer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != g {
		return nil, false
	}
	a, ok := c.answers[key]
	return a, ok
}

// put keeps the answer for key built for g, forgetting those of other
// generations; a full cache starts over.
func (c *statusCache) put(g *generation, key string, a *cachedAnswer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != g || c.bytes+len(a.body) > statusCacheBytes {
		c.gen, c.answers, c.bytes = g, map[string]*cachedAnswer{}, 0
	}
	c.answers[key] = a
	c.bytes += len(a.body)
}

// write sends a to w.
func (a *cachedAnswer) write(w http.ResponseWriter) {
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.WriteHeader(a.code)
	w.Write(a.body)
}

// recorder is the http.ResponseWriter an answer is built into.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.code = code }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
