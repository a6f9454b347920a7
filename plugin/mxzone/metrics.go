package mxzone

import (
	"time"

	"github.com/coredns/coredns/plugin"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	zonesGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "zones",
		Help:      "Zone files by state: served, last_good (a refused edit; the last good version is served) or rejected (never valid: SERVFAIL).",
	}, []string{"server", "state"})

	reloads = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "reloads_total",
		Help:      "Scans of the zone directory that found changes, by result: applied (every change is served), refused (at least one edit was held back) or error (the directory could not be read).",
	}, []string{"server", "result"})

	findingsCounter = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "validation_findings_total",
		Help:      "Validation findings in new or changed zone files, by rule and severity.",
	}, []string{"server", "rule", "severity"})

	unverified = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "unverified_zones",
		Help:      "Zones served from the start snapshot whose files are not yet checked against it; 0 once every file is.",
	}, []string{"server"})

	lastReload = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "last_reload_timestamp_seconds",
		Help:      "When the last set of zones was published.",
	}, []string{"server"})

	notifies = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "notifies_total",
		Help:      "NOTIFY messages for changed zones, by result: sent (every secondary of the transfer plugin accepted it) or failed.",
	}, []string{"server", "result"})

	signings = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "dnssec_signings_total",
		Help:      "Zones readied for serving signed, by result: signed (new signatures: a first start, an edit, a refresh), kept (the signed copy or the signed version served before signs it already) or failed (served unsigned, or its last signed version kept).",
	}, []string{"server", "result"})

	unsavedGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "unsaved_zones",
		Help:      "Served zones whose copy in the state directory could not be saved yet (retried with back-off).",
	}, []string{"server"})

	updatesTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "updates_total",
		Help:      "RFC 2136 UPDATE messages, by result: applied, unchanged (nothing to change), or the rcode they were answered with (refused, notauth, formerr, nxdomain, yxdomain, nxrrset, yxrrset, notzone, servfail).",
	}, []string{"server", "result"})

	journalBytes = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "journal_bytes",
		Help:      "Bytes in the zones' journals (state directory) together.",
	}, []string{"server"})

	transfersTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "transfers_total",
		Help:      "Zone transfers handed to the transfer plugin, by kind: axfr, ixfr (the differences from the journal), ixfr_axfr (an IXFR answered with the whole zone: the journal does not reach back to the serial) or ixfr_uptodate.",
	}, []string{"server", "kind"})

	reloadDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "reload_duration_seconds",
		Help:      "Time to build and publish a set of zones after a change.",
		Buckets:   prometheus.ExponentialBuckets(0.001, 4, 10),
	}, []string{"server"})
)

// recordGeneration publishes the gauges of a newly published generation.
func (m *MXZone) recordGeneration(g *generation, rep *report, took time.Duration) {
	var counts [len(outcomeNames)]int
	for _, e := range g.zones {
		counts[e.status]++
	}
	for s, n := range counts {
		zonesGauge.WithLabelValues(m.server, outcome(s).String()).Set(float64(n))
	}
	result := "applied"
	for _, ch := range rep.changes {
		if ch.retry {
			continue // the same file, counted when it changed
		}
		for _, f := range ch.entry.findings {
			findingsCounter.WithLabelValues(m.server, f.Rule.String(), f.Severity.String()).Inc()
		}
		if ch.entry.status != outcomeServed {
			result = "refused"
		}
	}
	for _, origin := range rep.touched {
		if e := g.zones[origin]; e != nil {
			for _, f := range e.findings {
				if f.cross {
					findingsCounter.WithLabelValues(m.server, f.Rule.String(), f.Severity.String()).Inc()
				}
			}
		}
	}
	reloads.WithLabelValues(m.server, result).Inc()
	lastReload.WithLabelValues(m.server).Set(float64(time.Now().Unix()))
	reloadDuration.WithLabelValues(m.server).Observe(took.Seconds())
}

// statusRequests counts the answers of the status API and page by HTTP code.
var statusRequests = promauto.NewCounterVec(prometheus.CounterOpts{
	Namespace: plugin.Namespace,
	Subsystem: pluginName,
	Name:      "status_requests_total",
	Help:      "Requests to the status API and page, by HTTP status code.",
}, []string{"code"})

// recordUpdate records the metrics of a generation an update published:
// the zones' states did not change, so they are not counted again.
func (m *MXZone) recordUpdate(rep *report, took time.Duration) {
	for _, ch := range rep.changes {
		for _, f := range ch.entry.findings {
			findingsCounter.WithLabelValues(m.server, f.Rule.String(), f.Severity.String()).Inc()
		}
	}
	lastReload.WithLabelValues(m.server).Set(float64(time.Now().Unix()))
	reloadDuration.WithLabelValues(m.server).Observe(took.Seconds())
}
