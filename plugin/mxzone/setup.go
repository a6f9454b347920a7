package mxzone

import (
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/transfer"

	"github.com/miekg/dns"
)

// defaultReload is how often the zone directory is scanned for changes.
const defaultReload = 30 * time.Second

func init() { plugin.Register(pluginName, setup) }

func setup(c *caddy.Controller) error {
	m, err := parse(c)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	cfg := dnsserver.GetConfig(c)
	if m.updates != nil {
		takeUpdates(cfg, m.updates)
	}
	c.OnStartup(func() error {
		if t, ok := cfg.Handler("transfer").(*transfer.Transfer); ok {
			m.notify = newNotifier(t.Notify)
		}
		return m.OnStartup()
	})
	c.OnShutdown(m.OnShutdown)
	cfg.AddPlugin(func(next plugin.Handler) plugin.Handler {
		m.Next = next
		return m
	})
	return nil
}

// parse reads the mxzone block (README.md, Syntax):
//
//	mxzone DIR [ZONES...] {
//	    reload DURATION
//	    fallthrough [ZONES...]
//	    RULE fail|warn|ignore
//	    max_file_size SIZE
//	    max_records COUNT
//	    max_zones COUNT
//	    max_rrset_records COUNT
//	    max_types_per_name COUNT
//	    max_names COUNT
//	    state DIR
//	    dnssec [ecdsap256sha256|ed25519] {
//	        nsec|nsec3
//	        signature_validity DURATION
//	        zones ZONES...
//	    }
//	    catalog NAME
//	    status ADDRESS
//	    update POLICYDIR {
//	        journal_size SIZE
//	        serial increment|unixtime
//	    }
//	    allow_public_suffix ZONES...
//	    includes PATTERN...
//	    protect ZONES...
//	}
func parse(c *caddy.Controller) (*MXZone, error) {
	m := &MXZone{interval: defaultReload}
	cfg := dnsserver.GetConfig(c)
	m.server = serverLabel(cfg)
	l := &loader{policy: DefaultPolicy(), limits: DefaultLimits()}
	m.loader = l
	blocks := 0
	for c.Next() {
		blocks++
		if blocks > 1 {
			return nil, c.Err("mxzone can be used once per server block; list more zones as arguments")
		}
		args := c.RemainingArgs()
		if len(args) == 0 {
			return nil, c.ArgErr()
		}
		abs, err := resolveDir(c, args[0])
		if err != nil {
			return nil, c.Errf("zone directory %q: %v", args[0], err)
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, c.Errf("zone directory %q: %v", args[0], err)
		}
		if !fi.IsDir() {
			return nil, c.Errf("zone directory %q is not a directory", args[0])
		}
		l.dir = abs
		m.Origins = plugin.OriginsFromArgsOrServerBlock(args[1:], c.ServerBlockKeys)
		l.origins = m.Origins
		seen := map[string]bool{}
		for c.NextBlock() {
			prop := c.Val()
			if seen[prop] {
				return nil, c.Errf("property %q is set twice", prop)
			}
			seen[prop] = true
			if err := parseProperty(c, m, prop); err != nil {
				return nil, err
			}
		}
	}
	if m.signing != nil {
		if m.state == nil {
			return nil, c.Err("dnssec needs a state directory (state DIR): the keys and signed copies are kept there")
		}
		if strings.HasPrefix(m.state.dir+"/", m.loader.dir+"/") {
			return nil, c.Errf("dnssec: the state directory %s is inside the zone directory %s: the keys kept there must be out of "+
				"the customers' reach", m.state.dir, m.loader.dir)
		}
		m.signing.ring.store.Dir = filepath.Join(m.state.dir, "keys")
		m.signing.copies = filepath.Join(m.state.dir, "signed")
	}
	if u := m.updates; u != nil {
		if m.state == nil {
			return nil, c.Err("update needs a state directory (state DIR): the journals of the zones are kept there")
		}
		if strings.HasPrefix(u.dir+"/", m.loader.dir+"/") {
			return nil, c.Errf("update: the policy directory %s is inside the zone directory %s: its keys must be out of the "+
				"customers' reach", u.dir, m.loader.dir)
		}
		u.journals = filepath.Join(m.state.dir, "journal")
		u.commit = newGroupCommit(u.journals)
		u.secrets = serverSecrets(u.dir)
		m.loader.dynamic = u
	}
	return m, nil
}

// subBlock reads the optional { } block of a property (what, for the
// error): each gets every property name in it, its arguments still to read.
func subBlock(c *caddy.Controller, what string, each func(prop string) error) error {
	if !c.NextArg() {
		return nil
	}
	if c.Val() != "{" {
		return c.ArgErr()
	}
	for c.Next() {
		if c.Val() == "}" {
			return nil
		}
		if err := each(c.Val()); err != nil {
			return err
		}
	}
	return c.Errf("%s: the block is not closed with }", what)
}

// parseDays reads a Go duration, or a number of days written "14d".
func parseDays(s string) (time.Duration, bool) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 3650 {
			return 0, false
		}
		return time.Duration(days) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}

func parseProperty(c *caddy.Controller, m *MXZone, prop string) error {
	switch prop {
	case "reload":
		return parseReload(c, m)
	case "fallthrough":
		m.Fall.SetZonesFromArgs(c.RemainingArgs())
		return nil
	case "catalog":
		return parseCatalog(c, m)
	case "protect":
		args := c.RemainingArgs()
		if len(args) == 0 {
			return c.ArgErr()
		}
		m.loader.protected = map[string]bool{}
		for _, a := range args {
			if _, ok := dns.IsDomainName(a); !ok {
				return c.Errf("protect: %q is not a domain name", a)
			}
			m.loader.protected[dns.Fqdn(strings.ToLower(a))] = true
		}
		return nil
	case "includes":
		args := c.RemainingArgs()
		if len(args) == 0 {
			return c.ArgErr()
		}
		for _, p := range args {
			if _, err := path.Match(p, ""); err != nil || path.IsAbs(p) || strings.Contains(p, "..") {
				return c.Errf("includes: %q is not a pattern of files inside the zone directory (for example fragments/ or *.inc)", p)
			}
		}
		m.loader.includes = args
		return nil
	case "allow_public_suffix":
		args := c.RemainingArgs()
		if len(args) == 0 {
			return c.ArgErr()
		}
		for _, a := range args {
			if _, ok := dns.IsDomainName(a); !ok {
				return c.Errf("allow_public_suffix: %q is not a domain name", a)
			}
			m.loader.publicSuffixes = append(m.loader.publicSuffixes, dns.Fqdn(strings.ToLower(a)))
		}
		return nil
	case "state":
		return parseState(c, m)
	case "dnssec":
		return parseDNSSEC(c, m)
	case "update":
		return parseUpdate(c, m)
	case "status":
		return parseStatus(c, m)
	case "max_file_size", "max_records", "max_zones", "max_rrset_records", "max_types_per_name", "max_names":
		return parseLimit(c, &m.loader.limits, prop)
	}
	rule, ok := ruleByName(prop)
	if !ok {
		return c.Errf("unknown property %q", prop)
	}
	args := c.RemainingArgs()
	if len(args) != 1 {
		return c.Errf("%s takes one of fail, warn or ignore", prop)
	}
	sev, ok := parseSeverity(args[0])
	if !ok {
		return c.Errf("%s: unknown severity %q; use fail, warn or ignore", prop, args[0])
	}
	m.loader.policy.Rules[rule] = sev
	return nil
}

// resolveDir makes a directory of the Corefile absolute, a relative one
// against the server block's root.
func resolveDir(c *caddy.Controller, dir string) (string, error) {
	if root := dnsserver.GetConfig(c).Root; !filepath.IsAbs(dir) && root != "" {
		dir = filepath.Join(root, dir)
	}
	return filepath.Abs(dir)
}

// oneArg returns the one argument of the current property.
func oneArg(c *caddy.Controller) (string, error) {
	args := c.RemainingArgs()
	if len(args) != 1 {
		return "", c.ArgErr()
	}
	return args[0], nil
}

func parseReload(c *caddy.Controller, m *MXZone) error {
	arg, err := oneArg(c)
	if err != nil {
		return err
	}
	d, err := time.ParseDuration(arg)
	if err != nil {
		return c.Errf("reload: %q is not a duration (for example 30s or 2m)", arg)
	}
	if d < 0 {
		return c.Errf("reload: %q is negative; 0 turns reloading off", arg)
	}
	m.interval = d
	return nil
}

func parseCatalog(c *caddy.Controller, m *MXZone) error {
	arg, err := oneArg(c)
	if err != nil {
		return err
	}
	name, ok := dns.IsDomainName(arg)
	if !ok || name < 1 || !dns.IsFqdn(arg) {
		return c.Errf("catalog: %q is not a domain name with a final dot (for example catalog.invalid.)", arg)
	}
	origin := strings.ToLower(arg)
	if len(m.Origins) > 0 && plugin.Zones(m.Origins).Matches(origin) == "" {
		return c.Errf("catalog: %s is outside the zones of this mxzone (%s)", arg, strings.Join(m.Origins, " "))
	}
	m.catalog = newCatalog(origin)
	m.loader.catalog = origin
	return nil
}

func parseState(c *caddy.Controller, m *MXZone) error {
	arg, err := oneArg(c)
	if err != nil {
		return err
	}
	abs, err := resolveDir(c, arg)
	if err != nil {
		return c.Errf("state directory %q: %v", arg, err)
	}
	if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
		return c.Errf("state directory %q is not a directory", arg)
	}
	if abs == m.loader.dir {
		return c.Errf("state directory %q is the zone directory; use a directory of its own", arg)
	}
	st := &stateDir{dir: abs}
	m.state = st
	m.loader.forgotten = func(origin string) bool { return !st.has(origin) || st.deleted(origin) }
	return nil
}

func parseLimit(c *caddy.Controller, limits *Limits, prop string) error {
	arg, err := oneArg(c)
	if err != nil {
		return err
	}
	if prop == "max_file_size" {
		n, ok := parseSize(arg)
		if !ok || n <= 0 {
			return c.Errf("max_file_size: %q is not a size (for example 64M)", arg)
		}
		limits.FileBytes = n
		return nil
	}
	n, err := strconv.Atoi(arg)
	if err != nil || n <= 0 {
		return c.Errf("%s: %q is not a positive number", prop, arg)
	}
	switch prop {
	case "max_records":
		limits.Records = n
	case "max_zones":
		limits.Zones = n
	case "max_rrset_records":
		limits.RRsetRecords = n
	case "max_names":
		limits.Names = n
	default:
		limits.TypesPerName = n
	}
	return nil
}

// parseSize reads a byte count with an optional K, M or G (powers of 1024).
func parseSize(s string) (int64, bool) {
	mult := int64(1)
	switch strings.ToUpper(s[len(s)-1:]) {
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > (1<<62)/mult {
		return 0, false
	}
	return n * mult, true
}

// serverLabel names the server for the metrics the way CoreDNS does for
// request metrics ("dns://127.0.0.1:1053").
func serverLabel(cfg *dnsserver.Config) string {
	host := ""
	if len(cfg.ListenHosts) == 1 {
		host = cfg.ListenHosts[0]
	}
	return "dns://" + net.JoinHostPort(host, cfg.Port)
}
