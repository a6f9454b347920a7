package mxzone

import (
	"strconv"
	"strings"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/mailauth"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"

	"github.com/miekg/dns"
)

// The names the mail records live at.
const (
	dmarcLabel  = "_dmarc."           // _dmarc.DOMAIN (RFC 7489 section 6.1)
	reportLabel = "._report._dmarc."  // DOMAIN._report._dmarc.DESTINATION (RFC 7489 section 7.1)
	dkimLabel   = "._domainkey."      // SELECTOR._domainkey.DOMAIN (RFC 6376 section 3.6.2.1)
	adspLabel   = "_adsp._domainkey." // _adsp._domainkey.DOMAIN: ADSP (RFC 5617, historic), not a selector
	stsLabel    = "_mta-sts."         // _mta-sts.DOMAIN (RFC 8461 section 3.1)
	tlsrptLabel = "_smtp._tls."       // _smtp._tls.DOMAIN (RFC 8460 section 3)
	smtpLabel   = "_25._tcp."         // _25._tcp.HOST (RFC 7672 section 2.2)
)

// mailText is one TXT record as the mail rules read it: its strings joined.
type mailText struct {
	rec    zonefile.Record
	text   string
	breaks []int
}

// checkTXT applies the mail rules to the TXT RRset of one owner: SPF
// wherever it is, DMARC, DKIM, MTA-STS and TLS-RPT at their names.
func (st *localCheck) checkTXT(set []zonefile.Record) {
	owner := set[0].RR.Header().Name
	if st.txtBuf == nil {
		st.txtBuf = st.txtArr[:0]
	}
	texts := st.txtBuf[:0]
	for _, r := range set {
		text, breaks := mailauth.Join(r.RR.(*dns.TXT).Txt)
		texts = append(texts, mailText{rec: r, text: text, breaks: breaks})
	}
	st.txt, st.txtBuf = texts, texts
	switch {
	case strings.HasPrefix(owner, dmarcLabel):
		st.checkDMARC(texts)
		return
	case strings.HasPrefix(owner, adspLabel):
		// An ADSP policy ("dkim=all"), not a key: nothing to judge as DKIM.
	case strings.Contains(owner, dkimLabel):
		st.checkDKIM(texts)
	case strings.HasPrefix(owner, stsLabel):
		st.checkVersioned(texts, RuleMTASTS, "MTA-STS", "v=STSv1", mailauth.IsMTASTS, mailauth.ParseMTASTS)
	case strings.HasPrefix(owner, tlsrptLabel):
		st.checkVersioned(texts, RuleTLSRPT, "TLS-RPT", "v=TLSRPTv1", mailauth.IsTLSRPT, mailauth.ParseTLSRPT)
	}
	st.checkSPF(texts)
	if strings.Contains(owner, reportLabel) {
		return // DMARC records that authorize reports to this domain belong here
	}
	for _, t := range texts {
		if mailauth.IsDMARC(t.text) {
			st.fs.advise(RuleDMARC, SeverityWarn, t.rec.File, t.rec.Line, owner,
				"a DMARC record at a name that does not start with _dmarc is never read (RFC 7489 section 6.1); "+
					"move it to _dmarc.%s", owner)
		}
	}
}

// report turns the problems of one record's text into findings of rule:
// an Error takes the rule's severity, the others are advice.
func (st *localCheck) report(rule Rule, kind string, t mailText, ps []mailauth.Problem) {
	for _, p := range ps {
		where := ""
		if p.At >= 0 {
			where = ", octet " + strconv.Itoa(p.At+1)
		}
		msg := kind + " record" + where + ": " + p.Msg + mailauth.BreakHint(t.text, t.breaks, p)
		r := t.rec
		switch p.Level {
		case mailauth.Error:
			st.fs.add(rule, r.File, r.Line, r.RR.Header().Name, "%s", msg)
		case mailauth.Warning:
			st.fs.advise(rule, SeverityWarn, r.File, r.Line, r.RR.Header().Name, "%s", msg)
		default:
			st.fs.advise(rule, SeverityInfo, r.File, r.Line, r.RR.Header().Name, "%s", msg)
		}
	}
}

// checkSPF checks the SPF records among texts (RFC 7208).
func (st *localCheck) checkSPF(texts []mailText) {
	var first *mailText
	for i := range texts {
		t := &texts[i]
		if !mailauth.IsSPF(t.text) && !mailauth.NearSPF(t.text) {
			continue
		}
		spf, ps := mailauth.ParseSPF(t.text)
		if !hasMailError(ps) {
			ps = append(ps, mailauth.GluedTerms(t.text, t.breaks)...)
		}
		st.report(RuleSPF, "SPF", *t, ps)
		if !mailauth.IsSPF(t.text) {
			continue
		}
		if first != nil {
			st.fs.add(RuleSPF, t.rec.File, t.rec.Line, t.rec.RR.Header().Name,
				"second SPF record at this name (first at line %d): receivers return permerror and the domain's mail "+
					"fails SPF (RFC 7208 section 3.2); merge them into one record", first.rec.Line)
			continue
		}
		first = t
		st.checkPermissive(*t, &spf)
	}
}

// checkPermissive applies spf_permissive to the record of a domain that
// sends mail: not to one at a name starting with "_" (such as
// _spf.example.net), which is only ever included.
func (st *localCheck) checkPermissive(t mailText, spf *mailauth.SPF) {
	owner := t.rec.RR.Header().Name
	if strings.HasPrefix(owner, "_") {
		return
	}
	r := t.rec
	switch {
	case spf.All != nil && spf.All.Qualifier == '+':
		st.fs.add(RuleSPFPermissive, r.File, r.Line, owner,
			"SPF record: %q passes every host on the Internet as a sender for %s (RFC 7208 section 5.1); "+
				"end the record with -all or ~all", t.text[spf.All.At:spf.All.End], owner)
	case spf.All != nil && spf.All.Qualifier == '?':
		st.fs.advise(RuleSPFPermissive, SeverityWarn, r.File, r.Line, owner,
			"SPF record: ?all makes every other host neutral, which protects nothing (RFC 7208 section 8.2); "+
				"end the record with -all or ~all")
	case spf.All == nil && spf.Redirect == nil:
		st.fs.advise(RuleSPFPermissive, SeverityWarn, r.File, r.Line, owner,
			"SPF record has neither all nor redirect=, so any other host gets neutral (RFC 7208 section 4.7); "+
				"end the record with -all or ~all")
	}
}

// checkSPFType applies RFC 7208 section 3.1 to records of the SPF type (99):
// receivers read only TXT.
func (st *localCheck) checkSPFType(set []zonefile.Record) {
	for _, r := range set {
		text, _ := mailauth.Join(r.RR.(*dns.SPF).Txt)
		twin := false
		for _, t := range st.txt {
			twin = twin || t.text == text
		}
		if twin {
			st.fs.advise(RuleSPF, SeverityWarn, r.File, r.Line, r.RR.Header().Name,
				"the SPF record type (99) is obsolete and no receiver reads it (RFC 7208 section 3.1); remove it, "+
					"the TXT record with the same text is the one in use")
			continue
		}
		st.fs.add(RuleSPF, r.File, r.Line, r.RR.Header().Name,
			"SPF policy published only as the obsolete SPF record type (99), which no receiver reads "+
				"(RFC 7208 section 3.1); publish it as a TXT record")
	}
}

// checkDMARC checks the TXT records at _dmarc.DOMAIN (RFC 7489).
func (st *localCheck) checkDMARC(texts []mailText) {
	var first *mailText
	for i := range texts {
		t := &texts[i]
		owner := t.rec.RR.Header().Name
		switch {
		case mailauth.IsSPF(t.text):
			st.fs.advise(RuleDMARC, SeverityWarn, t.rec.File, t.rec.Line, owner,
				"an SPF record at %s does nothing: SPF is read at the domain itself (RFC 7208 section 4.4); move it to %s",
				owner, strings.TrimPrefix(owner, dmarcLabel))
		case mailauth.IsDMARC(t.text):
			_, ps := mailauth.ParseDMARC(t.text)
			st.report(RuleDMARC, "DMARC", *t, ps)
			if first != nil {
				st.fs.add(RuleDMARC, t.rec.File, t.rec.Line, owner,
					"second DMARC record at this name (first at line %d): receivers then apply no DMARC policy "+
						"(RFC 7489 section 6.6.3); keep one", first.rec.Line)
			}
			first = t
		case mailauth.NearDMARC(t.text):
			_, ps := mailauth.ParseDMARC(t.text)
			st.report(RuleDMARC, "DMARC", *t, ps)
		}
	}
}

// checkDKIM checks the TXT records at a DKIM selector (RFC 6376 section
// 3.6.1): one key record, well formed.
func (st *localCheck) checkDKIM(texts []mailText) {
	for i, t := range texts {
		if mailauth.IsSPF(t.text) {
			continue // a wildcard's or a mistake's SPF: checked as SPF
		}
		if i > 0 {
			st.fs.add(RuleDKIM, t.rec.File, t.rec.Line, t.rec.RR.Header().Name,
				"%d TXT records at one DKIM selector (first at line %d): verifiers may pick either and fail "+
					"(RFC 6376 section 3.6.2.2); keep one key per selector", len(texts), texts[0].rec.Line)
			return
		}
		_, ps := mailauth.ParseDKIM(t.text)
		st.report(RuleDKIM, "DKIM key", t, ps)
	}
}

// checkVersioned checks the records of a name where senders keep the TXT
// records that start with version and expect exactly one (MTA-STS,
// TLS-RPT).
func (st *localCheck) checkVersioned(texts []mailText, rule Rule, kind, version string,
	is func(string) bool, parse func(string) []mailauth.Problem) {
	var first *mailText
	near := false
	for i := range texts {
		t := &texts[i]
		if !is(t.text) {
			near = near || strings.Contains(strings.ToLower(t.text), strings.ToLower(version[2:]))
			continue
		}
		st.report(rule, kind, *t, parse(t.text))
		if first != nil {
			st.fs.add(rule, t.rec.File, t.rec.Line, t.rec.RR.Header().Name,
				"second %s record at this name (first at line %d): senders then use neither (%s); keep one",
				kind, first.rec.Line, map[Rule]string{RuleMTASTS: "RFC 8461 section 3.1", RuleTLSRPT: "RFC 8460 section 3"}[rule])
		}
		first = t
	}
	if first == nil && near {
		r := texts[0].rec
		st.fs.add(rule, r.File, r.Line, r.RR.Header().Name,
			"no TXT record here starts with exactly %q, so senders find no %s record; start it so, upper and "+
				"lower case as written", version, kind)
	}
}

// checkTLSA checks TLSA records (RFC 6698 section 2.1), and those of a mail
// server (_25._tcp.HOST) against RFC 7672.
func (st *localCheck) checkTLSA(set []zonefile.Record) {
	if st.tlsa == nil {
		st.tlsa = &set[0]
	}
	for _, r := range set {
		t := r.RR.(*dns.TLSA)
		ps := mailauth.TLSA(t.Usage, t.Selector, t.MatchingType, t.Certificate, strings.HasPrefix(t.Hdr.Name, smtpLabel))
		st.report(RuleTLSA, "TLSA", mailText{rec: r}, ps)
	}
}

// checkUnsignedTLSA notes TLSA records in a zone without DNSKEY at its apex:
// DANE needs DNSSEC, and senders ignore TLSA records they cannot validate
// (RFC 7672 section 2.2).
func (st *localCheck) checkUnsignedTLSA() {
	if st.tlsa == nil || st.signed {
		return
	}
	r := st.tlsa
	st.fs.advise(RuleTLSA, SeverityInfo, r.File, r.Line, r.RR.Header().Name,
		"TLSA records in a zone with no DNSKEY: DANE senders use them only when DNSSEC validates them "+
			"(RFC 7672 section 2.2); sign the zone")
}

// hasMailError reports whether any of ps is an Error.
func hasMailError(ps []mailauth.Problem) bool {
	for _, p := range ps {
		if p.Level == mailauth.Error {
			return true
		}
	}
	return false
}
