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
}

// startProgress starts counting total items of the step what.
func startProgress(what string, total int, every time.Duration) *progress {
	p := &progress{what: what, total: total, start: time.Now(), stop: make(chan struct{})}
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
				log.Info(p.line(time.Now()))
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

// finish stops the log lines.
func (p *progress) finish() {
	if p != nil {
		close(p.stop)
		p.wg.Wait()
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
