package test

import (
	"bytes"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestQuestionEchoedByteForByte: the question comes back exactly as it
// was asked, bytes, case and a dot inside a label included (RFC 1035
// section 4.1.2, RFC 4343), over UDP and TCP, and the answer is found for
// it.
func TestQuestionEchoedByteForByte(t *testing.T) {
	dir := t.TempDir()
	writeAtomic(t, filepath.Join(dir, "campus.edu.zone"), "$TTL 500\n@ SOA ns1.outside.edu. root 8 6048 4000 2419200 6048\n"+
		"@ NS ns1.outside.edu.\n"+`has\046dot A 192.0.2.2`+"\n")
	s := startServer(t, dir, "        reload 1h")
	for _, name := range []string{`has\.dot.campus.edu.`, `HaS\.DoT.CAMPUS.edu.`} {
		req := new(dns.Msg)
		req.SetQuestion(name, dns.TypeA)
		wire, err := req.Pack()
		if err != nil {
			t.Fatal(err)
		}
		question := wire[12:] // no EDNS: the question is all that follows the header
		for _, proto := range []string{"udp", "tcp"} {
			reply := exchangeRaw(t, proto, s.addr, wire)
			if len(reply) < 12+len(question) || !bytes.Equal(reply[12:12+len(question)], question) {
				t.Errorf("%s over %s: question sent %x, echoed %x", name, proto, question, reply[12:min(len(reply), 12+len(question))])
			}
			msg := new(dns.Msg)
			if err := msg.Unpack(reply); err != nil || msg.Rcode != dns.RcodeSuccess || len(msg.Answer) != 1 {
				t.Errorf("%s over %s: %v %v", name, proto, msg, err)
			}
		}
	}
}

// exchangeRaw sends one query in wire form and returns the reply's bytes.
func exchangeRaw(t *testing.T, proto, addr string, query []byte) []byte {
	t.Helper()
	conn, err := net.DialTimeout(proto, addr, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	dc := &dns.Conn{Conn: conn}
	if _, err := dc.Write(query); err != nil {
		t.Fatal(err)
	}
	if proto == "tcp" {
		var size [2]byte // RFC 1035 section 4.2.2: a two-byte length, then the message
		if _, err := io.ReadFull(conn, size[:]); err != nil {
			t.Fatal(err)
		}
		out := make([]byte, int(size[0])<<8|int(size[1]))
		if _, err := io.ReadFull(conn, out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	buf := make([]byte, 65535)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}
