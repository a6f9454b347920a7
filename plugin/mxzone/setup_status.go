package mxzone

import (
	"net"
	"os"
	"strings"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
)

// parseStatus reads `status ADDRESS { token FILE }`. ADDRESS is HOST:PORT
// or :PORT; without a host, the API listens where the server block does
// (its bind addresses, or 127.0.0.1 when it has none), never on every
// interface unasked.
func parseStatus(c *caddy.Controller, m *MXZone) error {
	args := c.RemainingArgs()
	if len(args) != 1 {
		return c.ArgErr()
	}
	host, port, err := net.SplitHostPort(args[0])
	if err != nil {
		return c.Errf("status: %q is not HOST:PORT or :PORT (for example 127.0.0.1:8053)", args[0])
	}
	s := &statusServer{m: m}
	if host != "" {
		s.addrs = []string{net.JoinHostPort(host, port)}
	} else {
		for _, h := range dnsserver.GetConfig(c).ListenHosts {
			if h != "" {
				s.addrs = append(s.addrs, net.JoinHostPort(h, port))
			}
		}
		if len(s.addrs) == 0 {
			s.addrs = []string{net.JoinHostPort("127.0.0.1", port)}
		}
	}
	m.status = s
	return subBlock(c, "status", func(prop string) error {
		switch prop {
		case "token":
			if s.token != nil {
				return c.Errf("status: property %q is set twice", prop)
			}
			file, err := oneArg(c)
			if err != nil {
				return err
			}
			path, err := resolveDir(c, file)
			if err != nil {
				return c.Errf("status: token %q: %v", file, err)
			}
			tok, err := readToken(path)
			if err != nil {
				return c.Errf("status: token: %v", err)
			}
			s.token = tok
			return nil
		}
		return c.Errf("status: unknown property %q", prop)
	})
}

// readToken reads a bearer token: the file's first line, at least 16 bytes
// of printable ASCII without spaces (RFC 6750 section 2.1's b64token).
func readToken(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tok, _, _ := strings.Cut(string(data), "\n")
	tok = strings.TrimSpace(tok)
	if len(tok) < 16 || len(tok) > 4096 || strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return nil, &os.PathError{Op: "read token", Path: path,
			Err: errString("the first line must be 16 to 4096 printable characters without spaces (for example: openssl rand -hex 32)")}
	}
	return []byte(tok), nil
}

// errString is an error that is its text.
type errString string

func (e errString) Error() string { return string(e) }
