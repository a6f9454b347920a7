package mxzone

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// progressEvery is how often a long step (reading every zone file at the
// first load, signing them) logs how far it is.
const progressEvery = 5 * time.Second

// progress counts the items of one long step and, while it runs, logs one
// line every interval: done / total, rate, time left. A step shorter than
// one interval logs nothing. A nil progress counts nothing.
type progress struct {
	what  string
	total int
	start time.Time
	done  atomic.Int64
	stop  chan struct{}
	wg    sync.WaitGroup
	every time.Duration
	logf  func(string)
}

// startProgress starts counting total items of the step what.
// Each line goes to logf (nil: the plugin's log, at INFO).
func startProgress(what string, total int, every time.Duration, logf func(string)) *progress {
	if logf == nil {
		logf = func(s string) { log.Info(s) }
	}
	p := &progress{what: what, total: total, start: time.Now(), stop: make(chan struct{}), every: every, logf: logf}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				logf(p.line(time.Now()))
			}
		}
	}()
	return p
}

// add counts one item done.
func (p *progress) add() {
	if p != nil {
		p.done.Add(1)
	}
}

// line says how far the step is at now.
func (p *progress) line(now time.Time) string {
	done := int(p.done.Load())
	elapsed := now.Sub(p.start)
	rate := float64(done) / max(elapsed.Seconds(), 1e-3)
	left := "unknown"
	if rate > 0 {
		left = (time.Duration(float64(p.total-done) / rate * float64(time.Second))).Round(time.Second).String()
	}
	return fmt.Sprintf("%s: %d / %d (%d%%), %.0f/s, about %s left", p.what, done, p.total, done*100/max(p.total, 1), rate, left)
}

// finish stops the log lines; a step that ran for an interval or more
// ends with one line that says it is done and how long it took.
func (p *progress) finish() {
	if p == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	if took := time.Since(p.start); took >= p.every {
		p.logf(fmt.Sprintf("%s: done, %d / %d in %v", p.what, p.done.Load(), p.total, took.Round(time.Millisecond)))
	}
}

// loadingStatus is what the status API says of the first load while it
// runs.
type loadingStatus struct {
	Step    string    `json:"step"`
	Done    int       `json:"done"`
	Total   int       `json:"total"`
	Started time.Time `json:"started"`
}

// status is p as the status API shows it.
func (p *progress) status() *loadingStatus {
	return &loadingStatus{Step: p.what, Done: int(p.done.Load()), Total: p.total, Started: p.start.UTC()}
}

// track makes p the step the status API shows (l.loading) until it is
// finished.
func (l *loader) track(p *progress) *progress {
	l.loading.Store(p)
	return p
}

// untrack ends p and clears it from the status API.
func (l *loader) untrack(p *progress) {
	p.finish()
	l.loading.CompareAndSwap(p, nil)
}
