package mxzone

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// statusServer serves the status API and page (status ADDRESS) on its own
// listeners. It only reads the published generation: a request never waits
// for a reload, nor a query for a request, and never sees half a reload.
// What it costs is bounded so that it cannot slow DNS answers: every
// answer is built once per generation and served from a cache after, and
// at most statusBuilders are built at a time.
type statusServer struct {
	addrs []string // HOST:PORT to listen on
	token []byte   // the bearer token requests must carry; nil: none
	m     *MXZone
	srvs  []*http.Server
	bound []string // the addresses listened on (with the port chosen for :0)
	cache statusCache
	slots chan struct{} // one per answer being built or written
	queue atomic.Int32  // requests waiting for a slot
}

// statusBuilders is how many answers are made at once; statusQueue how many
// requests may wait for a slot before the API answers 503.
const (
	statusBuilders = 2
	statusQueue    = 64
)

// start binds the addresses and serves. The sockets are bound with
// SO_REUSEPORT: on a Corefile reload the new server binds them while the
// old one still holds them.
func (s *statusServer) start() error {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		return errors.Join(err, serr)
	}}
	s.slots = make(chan struct{}, statusBuilders)
	h := s.handler()
	for _, addr := range s.addrs {
		ln, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			s.stop()
			return err
		}
		s.bound = append(s.bound, ln.Addr().String())
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
		s.srvs = append(s.srvs, srv)
		go srv.Serve(ln)
		host, _, _ := net.SplitHostPort(ln.Addr().String())
		switch ip := net.ParseIP(host); {
		case s.token != nil:
			log.Infof("status: API and page on http://%s/ (bearer token required)", ln.Addr())
		case ip != nil && ip.IsLoopback():
			log.Infof("status: API and page on http://%s/", ln.Addr())
		default:
			log.Warningf("status: API and page on http://%s/, reachable from other hosts, without a token: "+
				"anyone who reaches it reads every zone's findings; set `token FILE` in the status block", ln.Addr())
		}
	}
	return nil
}

// stop closes the listeners and the connections.
func (s *statusServer) stop() {
	for _, srv := range s.srvs {
		srv.Close()
	}
}

// handler routes the API and the page; every answer is counted by code.
func (s *statusServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /zones", s.zones)
	mux.HandleFunc("GET /zones/{name}", s.zone)
	mux.HandleFunc("GET /zone", s.zonePage)
	mux.HandleFunc("GET /{$}", s.index)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &codeWriter{ResponseWriter: w, code: http.StatusOK}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		// No script runs on these pages, whatever a zone holds.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'")
		s.serve(mux, cw, r)
		statusRequests.WithLabelValues(strconv.Itoa(cw.code)).Inc()
	})
}

// serve answers r: after the token check, from the cache when the
// generation is the one the answer was built for, else built by mux in one
// of the slots.
func (s *statusServer) serve(mux http.Handler, w http.ResponseWriter, r *http.Request) {
	if s.token != nil && !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="coredns-mx status"`)
		http.Error(w, "a bearer token is required (Authorization: Bearer TOKEN)", http.StatusUnauthorized)
		return
	}
	g := s.m.gen.Load()
	key := r.Method + " " + r.URL.Path + "?" + r.URL.RawQuery
	if a, ok := s.cache.get(g, key); ok && g != nil {
		a.write(w)
		return
	}
	if s.queue.Add(1) > statusQueue {
		s.queue.Add(-1)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "busy: too many status requests at once", http.StatusServiceUnavailable)
		return
	}
	select {
	case s.slots <- struct{}{}:
		s.queue.Add(-1)
	case <-r.Context().Done():
		s.queue.Add(-1)
		return
	}
	defer func() { <-s.slots }()
	if a, ok := s.cache.get(g, key); ok && g != nil {
		a.write(w) // built while this one waited
		return
	}
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	mux.ServeHTTP(rec, r)
	a := &cachedAnswer{header: rec.header, code: rec.code, body: rec.body.Bytes()}
	if r.Method == http.MethodGet && g != nil && g == s.m.gen.Load() {
		s.cache.put(g, key, a)
	}
	a.write(w)
}

// authorized reports whether r carries the token, compared in constant time.
func (s *statusServer) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), s.token) == 1
}

// codeWriter remembers the status code written.
type codeWriter struct {
	http.ResponseWriter
	code int
}

func (w *codeWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// generation is the published generation; an empty one before the first load.
func (s *statusServer) generation() *generation {
	if g := s.m.gen.Load(); g != nil {
		return g
	}
	return &generation{zones: map[string]*entry{}}
}

// listQuery reads ?state=, ?rule=, ?after= and ?limit=; the error says which
// is wrong.
func listQuery(r *http.Request) (state, rule, after string, limit int, err error) {
	q := r.URL.Query()
	state, rule, after, limit = q.Get("state"), q.Get("rule"), q.Get("after"), pageDefault
	if state != "" && !slices.Contains(outcomeNames[:], state) {
		return "", "", "", 0, errors.New("state is one of served, last_good, rejected, from_state")
	}
	if _, ok := ruleNamed(rule); rule != "" && !ok {
		return "", "", "", 0, errors.New("unknown rule " + strconv.Quote(rule))
	}
	if v := q.Get("limit"); v != "" {
		n, cerr := strconv.Atoi(v)
		if cerr != nil || n < 1 || n > pageMax {
			return "", "", "", 0, errors.New("limit is 1 to " + strconv.Itoa(pageMax))
		}
		limit = n
	}
	if after != "" {
		after = zoneName(after)
	}
	return state, rule, after, limit, nil
}

// ruleNamed is ruleByName with syntax, which is not configurable but is a rule.
func ruleNamed(name string) (Rule, bool) {
	if name == RuleSyntax.String() {
		return RuleSyntax, true
	}
	return ruleByName(name)
}

// zones answers GET /zones.
func (s *statusServer) zones(w http.ResponseWriter, r *http.Request) {
	state, rule, after, limit, err := listQuery(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	list := listZones(s.generation(), state, rule, after, limit)
	list.Loading = s.loading()
	writeJSON(w, http.StatusOK, list)
}

// zone answers GET /zones/NAME.
func (s *statusServer) zone(w http.ResponseWriter, r *http.Request) {
	name := zoneName(r.PathValue("name"))
	d, ok := s.detail(name)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no zone file for " + name})
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// detail is the zone's detail with what lives beside the generation: its
// journal's state and its keys'.
func (s *statusServer) detail(name string) (zoneDetail, bool) {
	d, ok := detail(s.generation(), name)
	if !ok {
		return d, false
	}
	if u := s.m.updates; u != nil {
		d.Dynamic = u.status(name)
	}
	if sg := s.m.signing; sg != nil && d.DNSSEC != nil {
		if k, err := KeyStatus(sg.ring.store.Dir, name); err == nil {
			d.DNSSEC.Keys = k
		}
	}
	return d, true
}

// writeJSON writes v as the answer.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// loading is the first load's progress, while no generation is published.
func (s *statusServer) loading() *loadingStatus {
	if s.m.gen.Load() != nil {
		return nil
	}
	if p := s.m.loader.loading.Load(); p != nil {
		return p.status()
	}
	return nil
}
