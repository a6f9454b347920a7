package mxzone

import (
	"errors"
	"slices"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/journal"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"

	"github.com/miekg/dns"
)

// Limits bound what customer files may make the server hold, so that a
// hostile or broken file becomes a finding and never an out-of-memory.
type Limits struct {
	FileBytes    int64 // bytes in one zone file and its includes together
	Records      int   // records in one zone
	Zones        int   // zone files served; files beyond are refused
	RRsetRecords int   // records in one RRset
	TypesPerName int   // RR types at one owner name
	Names        int   // names in one zone, empty non-terminals included
}

// DefaultLimits are generous for customer zones and safe for the server: a
// zone of 200,000 records takes about 30 MB; 100 records per RRset and 100
// types per name are BIND's defaults since CVE-2024-1737; 500,000 names
// leave room for the empty non-terminals of a zone at the record limit, and
// load in under a second however deep they are (460,306 names made by 4,000
// names 118 labels deep: 0.68 s for coredns-mx check, RELIABILITY.md).
func DefaultLimits() Limits {
	return Limits{FileBytes: 64 << 20, Records: 200_000, Zones: 2_000_000, RRsetRecords: 100, TypesPerName: 100,
		Names: 500_000}
}

// version is one version of a zone that passed reading: its index, and what
// the cross-zone checks and the operator need to know about where its
// records came from. Like the index, it never changes once built.
type version struct {
	zone.Zone             // by value: one object fewer between a query and the records
	file      string      // the zone file as the operator knows it
	includes  []string    // files read through $INCLUDE, as the operator knows them
	mx        []mxPos     // where each MX record of the zone came from, in zone order
	mail      []mailRef   // the records the cross-zone mail checks read (SPF, DMARC reports, MTA-STS)
	saved     bool        // read from the state directory, not from DIR
	signed    *signedZone // the version as served with DNSSEC; nil: served unsigned
}

// mxPos is where an MX record came from. The records themselves live in the
// zone, packed; only the cross-zone checks need their places.
type mxPos struct {
	line int32
	file int32 // index into the version's includes; -1: the zone file itself
}

// fileOf returns the file an MX record came from.
func (v *version) fileOf(pos mxPos) string {
	if pos.file < 0 || int(pos.file) >= len(v.includes) {
		return v.file
	}
	return v.includes[pos.file]
}

// newVersion indexes records sorted by owner and type, as checkLocal returns
// them. A record the index refuses (it cannot be put in wire form) comes
// back as the record at fault.
func newVersion(origin, file string, includes []string, recs []zonefile.Record, maxNames int) (*version, *zonefile.Record, error) {
	rrs := make([]dns.RR, len(recs))
	for i, r := range recs {
		rrs[i] = r.RR
	}
	z, err := zone.Build(origin, rrs, maxNames)
	if err != nil {
		var re *zone.RecordError
		if errors.As(err, &re) {
			return nil, &recs[re.Index], re.Err
		}
		return nil, nil, err
	}
	return &version{Zone: *z, file: file, includes: includes, mx: mxPositions(file, includes, recs),
		mail: mailRefs(file, includes, recs)}, nil, nil
}

// mxPositions records where each MX record came from, in the order of recs
// (which is the zone's order).
func mxPositions(file string, includes []string, recs []zonefile.Record) []mxPos {
	n := 0
	for _, r := range recs {
		if r.RR.Header().Rrtype == dns.TypeMX {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]mxPos, 0, n)
	for _, r := range recs {
		if r.RR.Header().Rrtype != dns.TypeMX {
			continue
		}
		out = append(out, posOf(file, includes, r))
	}
	return out
}

// posOf is where r came from.
func posOf(file string, includes []string, r zonefile.Record) mxPos {
	pos := mxPos{line: int32(r.Line), file: -1}
	if r.File != file {
		pos.file = int32(slices.Index(includes, r.File))
	}
	return pos
}

// parsed is the outcome of reading and checking one zone file on its own.
type parsed struct {
	draft    *version // nil when the file did not parse
	ok       bool     // no finding stops the zone from being served
	findings []Finding
	stamp    zonefile.Stamp     // of the zone file as it was read
	includes []zonefile.Include // files read through $INCLUDE
	busy     bool               // the file is being written: not read, try again later
	// presigned is draft signed aside (readAside) after the version served
	// with serial signedAfter (0: none); the reload takes it if that is
	// still the version before.
	presigned   *signedZone
	signedAfter uint32
	// With updates (dyn given): the changes by UPDATE as they stand against
	// this file, and the file's own serial (the version's is the served one).
	delta      *journal.Delta
	fileSerial uint32
}

// parseZone reads one zone file with its includes (zonefile), applies the
// rules that need only this zone (checkLocal) and indexes what may be
// served (newVersion). The cross-zone checks come later (crossCheck). With
// dyn (the server takes updates), the zone's dynamic changes are applied to
// the file's records before they are checked, and the served serial is
// chosen (see dynamic).
func parseZone(src zonefile.Source, policy *Policy, limits *Limits, dyn *dynamic) (p parsed) {
	file := src.Display(src.Rel)
	fs := &findings{policy: policy, zone: src.Origin}
	defer func() {
		// The parser is fed customer data: whatever it does, the server lives on.
		if r := recover(); r != nil {
			fs.add(RuleSyntax, file, 0, src.Origin, "zone file could not be parsed: %v", r)
			p = parsed{findings: fs.list}
		}
	}()
	res, err := zonefile.Read(src)
	p.stamp, p.includes = res.Stamp, res.Includes
	if errors.Is(err, zonefile.ErrBusy) {
		p.busy = true
		return p
	}
	if err != nil {
		var fe *zonefile.Error
		if errors.As(err, &fe) {
			fs.add(ruleOf(fe.Kind), fe.File, fe.Line, src.Origin, "%s", fe.Msg)
		} else {
			fs.add(RuleSyntax, file, 0, src.Origin, "%s", err.Error())
		}
		p.findings = fs.list
		return p
	}
	if res.NoTTL > 0 {
		f := res.FirstNoTTL
		fs.addSeverity(RuleIntegrity, min(policy.Rules[RuleIntegrity], SeverityWarn), f.File, f.Line, f.RR.Header().Name,
			"%d records have no TTL and the file no $TTL before them: they take the SOA MINIMUM, %d, as BIND gives "+
				"them (RFC 2308 section 4); write a $TTL line at the top", res.NoTTL, f.RR.Header().Ttl)
	}
	recs := res.Records
	if dyn != nil {
		p.fileSerial = fileSerial(src.Origin, recs)
		del, add := dyn.pruned(recs)
		p.delta = &journal.Delta{Del: del, Add: add}
		recs = applyDelta(recs, del, add)
		if dyn.serial != 0 && !serialNewer(p.fileSerial, dyn.serial) {
			withSerial(src.Origin, recs, dyn.serial) // the same content keeps its serial
		}
	}
	keep := checkLocal(src.Origin, file, recs, limits, fs)
	var includes []string
	for _, inc := range res.Includes {
		includes = append(includes, inc.File)
	}
	v, bad, err := newVersion(src.Origin, file, includes, keep, limits.Names)
	if dyn != nil && err == nil && dyn.serial != 0 && !serialNewer(p.fileSerial, dyn.serial) && v.Digest() != dyn.digest {
		// New content under the serial served before: secondaries would
		// never take it. The next serial, and the index again.
		withSerial(src.Origin, keep, dyn.next(p.fileSerial, dyn.serial))
		v, bad, err = newVersion(src.Origin, file, includes, keep, limits.Names)
	}
	switch {
	case errors.Is(err, zone.ErrTooManyNames):
		fs.add(RuleSyntax, file, 0, src.Origin,
			"zone has more than the limit of %d names, empty non-terminals included (max_names)", limits.Names)
	case err != nil:
		at := zonefile.Record{File: file}
		if bad != nil {
			at = *bad
		}
		owner := src.Origin
		if at.RR != nil {
			owner = at.RR.Header().Name
		}
		fs.add(RuleSyntax, at.File, at.Line, owner, "record cannot be served: %v", err)
	}
	p.draft, p.findings, p.ok = v, fs.list, !failed(fs.list)
	return p
}

// ruleOf is the rule under which a problem reading a file is reported:
// leaving the zone directory is a matter of tenant isolation, the rest
// means the file cannot be served.
func ruleOf(k zonefile.Kind) Rule {
	if k == zonefile.KindOutside {
		return RuleIsolation
	}
	return RuleSyntax
}
