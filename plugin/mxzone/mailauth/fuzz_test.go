package mailauth

import "testing"

// The parsers read customer text: whatever it is, they return, and every
// span they report lies inside the text.

func spansInside(t *testing.T, text string, ps []Problem) {
	for _, p := range ps {
		if p.At >= 0 && (p.At > len(text) || p.End > len(text) || p.End < p.At) {
			t.Fatalf("%q: span %d-%d outside the text (%s)", text, p.At, p.End, p.Msg)
		}
	}
}

func FuzzSPF(f *testing.F) {
	for _, s := range []string{"v=spf1 -all", "v=spf1 a:%{d}/24//64 include:x.example redirect=y.example exp=%{c}.x",
		"v=spf1 ip4:1.2.3.4/33 ip6:::1/129 %{", "v=spf1include", "v=spf1 =x a:", "v=spf1 mx: -"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if !IsSPF(text) && !NearSPF(text) {
			return
		}
		spf, ps := ParseSPF(text)
		spansInside(t, text, ps)
		for _, term := range spf.Terms {
			if term.At < 0 || term.End > len(text) {
				t.Fatalf("%q: term span outside", text)
			}
		}
	})
}

func FuzzDMARC(f *testing.F) {
	for _, s := range []string{"v=DMARC1; p=none", "v=DMARC1;p=reject;rua=mailto:a@b.c!10m,https://x", "p=none; v=DMARC1",
		"v=DMARC1; rua=mailto:%zz@x; ruf=,", "v=DMARC1; ; =; p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if !IsDMARC(text) && !NearDMARC(text) {
			return
		}
		d, ps := ParseDMARC(text)
		spansInside(t, text, ps)
		for _, r := range d.Reports {
			if r.At < 0 || r.End > len(text) {
				t.Fatalf("%q: report span outside", text)
			}
		}
	})
}

func FuzzDKIM(f *testing.F) {
	for _, s := range []string{"v=DKIM1; p=", "v=DKIM1; k=ed25519; p=AAAA", "k=rsa; p=MIIB", "h=sha1:sha256; s=*; t=y:s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		_, ps := ParseDKIM(text)
		spansInside(t, text, ps)
	})
}

func FuzzMTASTSAndTLSRPT(f *testing.F) {
	for _, s := range []string{"v=STSv1; id=1;", "v=TLSRPTv1; rua=mailto:a@b", "v=STSv1;;id", "v=TLSRPTv1; rua=,;x="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if IsMTASTS(text) {
			spansInside(t, text, ParseMTASTS(text))
		}
		if IsTLSRPT(text) {
			spansInside(t, text, ParseTLSRPT(text))
		}
	})
}
