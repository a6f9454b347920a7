package mxzone

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/journal"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"

	"github.com/miekg/dns"
)

// DynamicZone reads zone origin as the server serves it without its DNSSEC
// records: the zone file with the changes UPDATE made since (the delta in
// its journal) applied, for `coredns-mx dynamic`. A control panel that
// writes these records back as the zone file takes the dynamic changes
// over: the delta then holds nothing the file does not say. It reads the
// files only, so it may run beside the server.
func DynamicZone(set Settings, origin string) (records []dns.RR, delta *journal.Delta, err error) {
	if set.Journals == "" {
		return nil, nil, errors.New("the mxzone block has no update property: no zone takes updates")
	}
	origin = strings.ToLower(dns.Fqdn(origin))
	delta, err = journal.ReadDelta(filepath.Join(set.Journals, origin+"jnl"))
	if err != nil {
		return nil, nil, err
	}
	root, err := os.OpenRoot(set.Dir)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	l := &loader{dir: set.Dir, includes: set.includes, limits: set.Limits}
	dyn := &dynamic{}
	if delta != nil {
		dyn.del, dyn.add = delta.Del, delta.Add
	}
	name := origin + "zone"
	p := parseZone(zonefile.Source{Root: root, DirFD: -1, Dir: set.Dir, Rel: name, File: filepath.Join(set.Dir, name),
		Origin: origin, MaxBytes: set.Limits.FileBytes, MaxRecords: set.Limits.Records, Includable: l.includable},
		&set.Policy, &set.Limits, dyn)
	if p.draft == nil {
		msg := "no such zone file"
		if len(p.findings) > 0 {
			msg = p.findings[0].String()
		}
		return nil, nil, fmt.Errorf("%s: %s", name, msg)
	}
	for s := range p.draft.All {
		records = s.AppendTo(records, s.Owner())
	}
	return records, p.delta, nil
}
