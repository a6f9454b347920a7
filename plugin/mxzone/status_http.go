package mxzone

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// statusServer serves the status API and page (status ADDRESS) on its own
// listener. It only reads the published generation: a request never waits
// for a reload, nor a query for a request, and never sees half a reload.
type statusServer struct {
	addr  string
	m     *MXZone
	srv   *http.Server
	bound string // the address listened on (addr with the port chosen for :0)
}

// start binds addr and serves. The socket is bound with SO_REUSEPORT: on a
// Corefile reload the new server binds it while the old one still holds it.
func (s *statusServer) start() error {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		return errors.Join(err, serr)
	}}
	ln, err := lc.Listen(context.Background(), "tcp", s.addr)
	if err != nil {
		return err
	}
	s.bound = ln.Addr().String()
	s.srv = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
	go s.srv.Serve(ln)
	return nil
}

// stop closes the listener and the connections.
func (s *statusServer) stop() {
	if s.srv != nil {
		s.srv.Close()
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
		mux.ServeHTTP(cw, r)
		statusRequests.WithLabelValues(strconv.Itoa(cw.code)).Inc()
	})
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
	if state != "" && !slices.Contains(statusNames[:], state) {
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
	writeJSON(w, http.StatusOK, listZones(s.generation(), state, rule, after, limit))
}

// zone answers GET /zones/NAME.
func (s *statusServer) zone(w http.ResponseWriter, r *http.Request) {
	name := zoneName(r.PathValue("name"))
	d, ok := detail(s.generation(), name)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no zone file for " + name})
		return
	}
	if u := s.m.updates; u != nil {
		d.Dynamic = u.status(name)
	}
	writeJSON(w, http.StatusOK, d)
}

// writeJSON writes v as the answer.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
