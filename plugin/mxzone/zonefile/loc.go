package zonefile

import (
	"strconv"
	"strings"
)

// locRecords writes the LOC records of data whose latitude or longitude
// gives the minutes but leaves the seconds out ("40 32 N"), which RFC 1876
// section 3 allows and miekg/dns does not read, with the seconds as 0.
// Only tokens are added: every record keeps its line.
func locRecords(data []byte) []byte {
	return rewriteLines(data, locLine)
}

func locLine(line []byte) ([]byte, bool) {
	toks := tokens(line)
	text := func(t [2]int) string { return strings.ToUpper(string(line[t[0]:t[1]])) }
	return atType(line, toks, func(k int) ([]byte, bool) {
		if text(toks[k]) != "LOC" {
			return nil, false
		}
		var out []byte
		from, i := 0, k+1
		for _, hemispheres := range []string{"NS", "EW"} {
			numbers := 0
			for ; i < len(toks) && !isHemisphere(text(toks[i]), hemispheres); i++ {
				if _, err := strconv.ParseFloat(text(toks[i]), 64); err != nil || numbers == 3 {
					return nil, false
				}
				numbers++
			}
			if i == len(toks) || numbers == 0 {
				return nil, false // not on this line, or not a coordinate
			}
			if numbers == 2 {
				at := toks[i-1][1]
				out = append(append(out, line[from:at]...), " 0"...)
				from = at
			}
			i++
		}
		if out == nil {
			return nil, false
		}
		return append(out, line[from:]...), true
	})
}

func isHemisphere(tok, letters string) bool {
	return len(tok) == 1 && strings.Contains(letters, tok)
}
