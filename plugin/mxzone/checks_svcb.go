package mxzone

import (
	"fmt"
	"slices"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"

	"github.com/miekg/dns"
)

// checkSVCB refuses the SVCB or HTTPS records of set whose SvcParams are
// malformed.
func (st *localCheck) checkSVCB(set []zonefile.Record) {
	for _, r := range set {
		if problem := svcbProblem(r.RR); problem != "" {
			st.fs.addSeverity(RuleIntegrity, SeverityFail, r.File, r.Line, r.RR.Header().Name, "%s", problem)
		}
	}
}

// svcbProblem says what makes the SvcParams of an SVCB or HTTPS record
// malformed (RFC 9460 appendix D.3 lists these cases, which a zone file
// parser must refuse and miekg/dns accepts), or "" if nothing does.
func svcbProblem(rr dns.RR) string {
	var params []dns.SVCBKeyValue
	switch v := rr.(type) {
	case *dns.SVCB:
		params = v.Value
	case *dns.HTTPS:
		params = v.Value
	default:
		return ""
	}
	present := map[dns.SVCBKey]bool{}
	for _, p := range params {
		k := p.Key()
		if present[k] {
			return fmt.Sprintf("SvcParamKey %s appears twice; each key at most once (RFC 9460 section 2.2)", k)
		}
		present[k] = true
	}
	for _, p := range params {
		switch v := p.(type) {
		case *dns.SVCBAlpn:
			if len(v.Alpn) == 0 || slices.Contains(v.Alpn, "") {
				return "alpn has an empty protocol id; give one or more, e.g. alpn=h2,h3 (RFC 9460 section 7.1.1)"
			}
		case *dns.SVCBMandatory:
			if len(v.Code) == 0 {
				return "mandatory lists no keys; list one or more or leave it out (RFC 9460 section 8)"
			}
			seen := map[dns.SVCBKey]bool{}
			for _, k := range v.Code {
				switch {
				case k == dns.SVCB_MANDATORY:
					return "mandatory lists itself; it must not (RFC 9460 section 8)"
				case seen[k]:
					return fmt.Sprintf("mandatory lists %s twice (RFC 9460 section 8)", k)
				case !present[k]:
					return fmt.Sprintf("mandatory lists %s, which the record does not give; add %s=... or take it off the list (RFC 9460 section 8)", k, k)
				}
				seen[k] = true
			}
		}
	}
	return ""
}
