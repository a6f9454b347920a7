package sign

import (
	"bytes"

	"github.com/miekg/dns"
)

// labels returns the labels of name in wire form, the root's empty label
// left out, last label first: the order RFC 4034 section 6.1 compares them in.
func labels(name string) [][]byte {
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(dns.CanonicalName(name), buf, 0, nil, false)
	if err != nil {
		return nil
	}
	var out [][]byte
	for i := 0; i < n && buf[i] != 0; i += int(buf[i]) + 1 {
		out = append(out, buf[i+1:i+1+int(buf[i])])
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// compareNames orders names canonically (RFC 4034 section 6.1): label by
// label from the right, each as lower-case octets, a name before the names
// below it.
func compareNames(a, b [][]byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := bytes.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}
