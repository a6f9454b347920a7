package mxzone

import (
	"errors"
	"strings"

	"github.com/coredns/coredns/plugin/transfer"

	"github.com/miekg/dns"
)

// errNotServed refuses the transfer of a zone whose file never had a valid
// version: there is nothing good to hand out.
var errNotServed = errors.New("zone has no valid version to transfer")

// xfrBatch is how many records go to the transfer plugin at a time.
const xfrBatch = 500

// Transfer implements transfer.Transferer for the stock transfer plugin:
// AXFR (serial 0) of the served version of a zone or of the catalog zone, in
// the order SOA, every other record, SOA. For IXFR with a serial that is not
// older than the served one it sends the SOA alone ("up to date"); with a
// serial the zone's journal holds (update is set), the differences from it
// (RFC 1995 section 4: the new SOA, then for each version step the old SOA,
// the records deleted, the new SOA, the records added, and the new SOA
// again); otherwise the whole zone, which RFC 1995 allows as the answer to
// an IXFR.
func (m *MXZone) Transfer(zone string, serial uint32) (<-chan []dns.RR, error) {
	g := m.gen.Load()
	if g == nil {
		return nil, transfer.ErrNotAuthoritative
	}
	zone = strings.ToLower(dns.Fqdn(zone))
	e := g.zones[zone]
	if e == nil && m.catalog != nil && m.catalog.origin == zone {
		e = m.catalog.cur.Load()
	}
	if e == nil {
		return nil, transfer.ErrNotAuthoritative
	}
	if e.zone == nil {
		return nil, errNotServed
	}
	v := e.zone.served()
	soa := v.SOA()
	ch := make(chan []dns.RR, 4)
	if serial != 0 && !serialNewer(soa.Serial, serial) {
		transfersTotal.WithLabelValues(m.server, "ixfr_uptodate").Inc()
		ch <- []dns.RR{soa}
		close(ch)
		return ch, nil
	}
	if serial != 0 && m.updates != nil {
		if steps, ok := m.updates.steps(zone, serial); ok && steps[len(steps)-1].To == soa.Serial {
			transfersTotal.WithLabelValues(m.server, "ixfr").Inc()
			go send(ch, soa, func(put func(dns.RR)) {
				// Each step's lists begin with its old and its new SOA (journal.Step).
				for _, s := range steps {
					for _, rr := range s.Del {
						put(rr)
					}
					for _, rr := range s.Add {
						put(rr)
					}
				}
			})
			return ch, nil
		}
	}
	if serial != 0 {
		transfersTotal.WithLabelValues(m.server, "ixfr_axfr").Inc()
	} else {
		transfersTotal.WithLabelValues(m.server, "axfr").Inc()
	}
	go send(ch, soa, func(put func(dns.RR)) {
		for set := range v.All {
			if set.Type() == dns.TypeSOA {
				continue
			}
			for _, rr := range set.RRs() {
				put(rr)
			}
		}
	})
	return ch, nil
}

// send sends a transfer to the transfer plugin in batches of xfrBatch
// records: soa, what each puts, soa again, as AXFR and IXFR both end.
func send(ch chan<- []dns.RR, soa *dns.SOA, each func(put func(dns.RR))) {
	defer close(ch)
	batch := make([]dns.RR, 0, xfrBatch)
	batch = append(batch, soa)
	each(func(rr dns.RR) {
		if len(batch) == xfrBatch {
			ch <- batch
			batch = make([]dns.RR, 0, xfrBatch)
		}
		batch = append(batch, rr)
	})
	ch <- append(batch, soa)
}
