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
// older than the served one it sends the SOA alone ("up to date"); otherwise
// the whole zone, which RFC 1995 section 4 allows as the answer to an IXFR:
// differences between versions are not kept.
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
		ch <- []dns.RR{soa}
		close(ch)
		return ch, nil
	}
	go func() {
		defer close(ch)
		batch := make([]dns.RR, 0, xfrBatch)
		batch = append(batch, soa)
		for set := range v.All {
			if set.Type() == dns.TypeSOA {
				continue
			}
			for _, rr := range set.RRs() {
				if len(batch) == xfrBatch {
					ch <- batch
					batch = make([]dns.RR, 0, xfrBatch)
				}
				batch = append(batch, rr)
			}
		}
		ch <- append(batch, soa)
	}()
	return ch, nil
}
