package mxzone

import (
	"os"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/update"

	"github.com/miekg/dns"
)

// parseUpdate reads the update property and its block.
func parseUpdate(c *caddy.Controller, m *MXZone) error {
	args := c.RemainingArgs()
	if len(args) != 1 {
		return c.ArgErr()
	}
	arg := args[0]
	abs, err := resolveDir(c, arg)
	if err != nil {
		return c.Errf("update: policy directory %q: %v", arg, err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return c.Errf("update: policy directory %q is not a directory", arg)
	}
	u := &updater{dir: abs, journalSize: defaultJournalSize, policies: map[string]*update.Policy{}, zones: map[string]*dynZone{},
		warned: map[string]bool{}}
	m.updates = u
	seen := map[string]bool{}
	return subBlock(c, "update", func(prop string) error {
		if seen[prop] {
			return c.Errf("update: property %q is set twice", prop)
		}
		seen[prop] = true
		switch prop {
		case "journal_size":
			v, err := oneArg(c)
			if err != nil {
				return err
			}
			n, ok := parseSize(v)
			if !ok || n < 64<<10 || n > 1<<30 {
				return c.Errf("update: journal_size %q is not a size from 64KiB to 1GiB", v)
			}
			u.journalSize = n
		case "serial":
			v, err := oneArg(c)
			if err != nil {
				return err
			}
			switch v {
			case "increment":
				u.serial = serialIncrement
			case "unixtime":
				u.serial = serialUnixtime
			default:
				return c.Errf("update: serial %q is not increment or unixtime", v)
			}
		default:
			return c.Errf("update: unknown property %q", prop)
		}
		return nil
	})
}

// takeUpdates lets UPDATE reach the plugins (the server answers it NOTIMP
// unless one asks for it) and gives the policy files' keys to the DNS
// server, which checks every MAC (RFC 8945).
func takeUpdates(cfg *dnsserver.Config, u *updater) {
	watchInstances()
	cfg.AllowOpcode(dns.OpcodeUpdate)
	if cfg.TsigSecret == nil {
		cfg.TsigSecret = map[string]string{}
	}
	for name, secret := range u.secrets {
		if s, ok := cfg.TsigSecret[name]; ok && s != secret {
			log.Errorf("update: key %q is also a tsig plugin key with another secret; the tsig plugin's is used", name)
			continue
		}
		cfg.TsigSecret[name] = secret
	}
}
