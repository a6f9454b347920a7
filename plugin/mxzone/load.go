package mxzone

import (
	"errors"
	"slices"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"

	"github.com/miekg/dns"
)

// Limits bound what customer files may make the server hold, so that a
// hostile or broken file becomes a finding and never an out-of-memory.
type Limits struct {
	FileBytes int64 // bytes in one zone file and its includes together
	Records   int   // records in one zone
	Zones     int   // zone files served; files beyond are refused
}

// DefaultLimits are generous for customer zones and safe for the server: a
// zone of 200,000 records takes about 30 MB.
func DefaultLimits() Limits {
	return Limits{FileBytes: 64 << 20, Records: 200_000, Zones: 2_000_000}
}

// version is one version of a zone that passed reading: its index, and what
// the cross-zone checks and the operator need to know about where its
// records came from. Like the index, it never changes once built.
type version struct {
	*zone.Zone
	file     string   // the zone file as the operator knows it
	includes []string // files read through $INCLUDE, as the operator knows them
	mx       []mxRef  // every MX that names a host, for the cross-zone checks
	saved    bool     // read from the state directory, not from DIR
}

// mxRef is one MX record as the cross-zone checks need it: the record and
// where it came from.
type mxRef struct {
	mx   *dns.MX
	line int32
	file int32 // index into the version's includes; -1: the zone file itself
}

// fileOf returns the file an MX record came from.
func (v *version) fileOf(ref mxRef) string {
	if ref.file < 0 || int(ref.file) >= len(v.includes) {
		return v.file
	}
	return v.includes[ref.file]
}

// newVersion indexes records sorted by owner and type, as checkLocal returns
// them. All records of the version share one backing array.
func newVersion(origin, file string, includes []string, recs []zonefile.Record) *version {
	rrs := make([]dns.RR, len(recs))
	for i, r := range recs {
		rrs[i] = r.RR
	}
	return &version{Zone: zone.Build(origin, rrs), file: file, includes: includes,
		mx: mxRefs(origin, file, includes, recs)}
}

// mxRefs records the MX records whose exchange is a host name.
func mxRefs(origin, file string, includes []string, recs []zonefile.Record) []mxRef {
	var refs []mxRef
	for _, r := range recs {
		mx, ok := r.RR.(*dns.MX)
		if !ok || mx.Mx == "." || isIPLiteral(mx.Mx, origin) {
			continue
		}
		ref := mxRef{mx: mx, line: int32(r.Line), file: -1}
		if r.File != file {
			ref.file = int32(slices.Index(includes, r.File))
		}
		refs = append(refs, ref)
	}
	return slices.Clip(refs)
}

// parsed is the outcome of reading and checking one zone file on its own.
type parsed struct {
	draft    *version // nil when the file did not parse
	ok       bool     // no finding stops the zone from being served
	findings []Finding
	stamp    zonefile.Stamp     // of the zone file as it was read
	includes []zonefile.Include // files read through $INCLUDE
	busy     bool               // the file is being written: not read, try again later
}

// parseZone reads one zone file with its includes (zonefile), applies the
// rules that need only this zone (checkLocal) and indexes what may be
// served (newVersion). The cross-zone checks come later (crossCheck).
func parseZone(src zonefile.Source, policy *Policy) (p parsed) {
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
	keep := checkLocal(src.Origin, file, res.Records, fs)
	p.findings = fs.list
	p.ok = !failed(fs.list)
	var includes []string
	for _, inc := range res.Includes {
		includes = append(includes, inc.File)
	}
	p.draft = newVersion(src.Origin, file, includes, keep)
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
