package zone

import "strings"

// CompareCanonical compares two fully qualified names in presentation form
// in the canonical DNS order of RFC 4034 section 6.1: label by label from
// the right, each label as octets with upper-case letters made lower case,
// a shorter label first. Escapes (\. and \DDD) are read as the octets they
// stand for. It allocates nothing.
func CompareCanonical(a, b string) int {
	if plainLower(a) && plainLower(b) {
		return comparePlain(a, b)
	}
	var bufA, bufB [MaxLabels]uint16
	la, lb := LabelStarts(a, &bufA), LabelStarts(b, &bufB)
	for i, j := len(la)-1, len(lb)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		if c := compareLabel(a, int(la[i]), b, int(lb[j])); c != 0 {
			return c
		}
	}
	return len(la) - len(lb)
}

// plainLower reports whether name holds neither escapes nor upper-case
// letters: its labels compare as they are written.
func plainLower(name string) bool {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '\\' || c >= 'A' && c <= 'Z' {
			return false
		}
	}
	return true
}

// comparePlain is CompareCanonical for names plainLower accepts: label by
// label from the right, as strings.
func comparePlain(a, b string) int {
	a, b = strings.TrimSuffix(a, "."), strings.TrimSuffix(b, ".")
	for a != "" && b != "" {
		i, j := strings.LastIndexByte(a, '.'), strings.LastIndexByte(b, '.')
		if c := strings.Compare(a[i+1:], b[j+1:]); c != 0 {
			return c
		}
		a, b = a[:max(i, 0)], b[:max(j, 0)]
		if i < 0 {
			a = ""
		}
		if j < 0 {
			b = ""
		}
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

// compareLabel compares the labels of a and b starting at ia and ib.
func compareLabel(a string, ia int, b string, ib int) int {
	for {
		ca, na, enda := labelOctet(a, ia)
		cb, nb, endb := labelOctet(b, ib)
		switch {
		case enda && endb:
			return 0
		case enda:
			return -1
		case endb:
			return 1
		}
		if ca != cb {
			return int(ca) - int(cb)
		}
		ia, ib = na, nb
	}
}

// labelOctet returns the octet of the label at s[i], lower-cased, and where
// the next one starts; true at the end of the label.
func labelOctet(s string, i int) (byte, int, bool) {
	if i >= len(s) || s[i] == '.' {
		return 0, i, true
	}
	c, next := s[i], i+1
	if c == '\\' && i+1 < len(s) {
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			c, next = byte(v), i+4
		} else {
			c, next = s[i+1], i+2
		}
	}
	if c >= 'A' && c <= 'Z' {
		c += 'a' - 'A'
	}
	return c, next, false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
