package mxzone

import (
	"net"
	"strings"
	"time"

	"github.com/coredns/caddy"

	"github.com/miekg/dns"
)

// parseDNSSEC reads the dnssec property and its block.
func parseDNSSEC(c *caddy.Controller, m *MXZone) error {
	s := &signing{alg: dns.ECDSAP256SHA256, validity: defaultValidity, ring: newKeyring("", dns.ECDSAP256SHA256)}
	args := c.RemainingArgs()
	switch {
	case len(args) > 1:
		return c.ArgErr()
	case len(args) == 1:
		alg, ok := map[string]uint8{"ecdsap256sha256": dns.ECDSAP256SHA256, "ed25519": dns.ED25519}[strings.ToLower(args[0])]
		if !ok {
			return c.Errf("dnssec: algorithm %q is not supported; use ecdsap256sha256 (the default) or ed25519", args[0])
		}
		s.alg, s.ring.policy.Algorithm = alg, alg
	}
	m.signing = s
	seen := map[string]bool{}
	return subBlock(c, "dnssec", func(prop string) error {
		if seen[prop] || (prop == "nsec" || prop == "nsec3") && (seen["nsec"] || seen["nsec3"]) {
			return c.Errf("dnssec: %q is set twice, or with the other denial of existence", prop)
		}
		seen[prop] = true
		args := c.RemainingArgs()
		switch prop {
		case "nsec", "nsec3":
			if len(args) > 0 {
				return c.Errf("dnssec: %s takes no arguments (NSEC3 is used with no salt and no extra iterations, RFC 9276)", prop)
			}
			s.nsec3 = prop == "nsec3"
		case "signature_validity":
			if len(args) != 1 {
				return c.ArgErr()
			}
			d, ok := parseDays(args[0])
			if !ok || d < time.Hour || d > 3650*24*time.Hour {
				return c.Errf("dnssec: signature_validity %q is not a duration of at least 1h (for example 14d or 336h)", args[0])
			}
			s.validity = d
		case "zones":
			if len(args) == 0 {
				return c.ArgErr()
			}
			for _, a := range args {
				if _, ok := dns.IsDomainName(a); !ok {
					return c.Errf("dnssec: zones: %q is not a domain name", a)
				}
				s.zones = append(s.zones, dns.Fqdn(strings.ToLower(a)))
			}
		default:
			return parseKeyPolicy(c, s.ring, prop, args)
		}
		return nil
	})
}

// parseKeyPolicy reads the properties of the dnssec block that say how
// keys are kept and rolled.
func parseKeyPolicy(c *caddy.Controller, r *keyring, prop string, args []string) error {
	p := &r.policy
	one := func(what string, atLeast time.Duration) (time.Duration, error) {
		if len(args) != 1 {
			return 0, c.ArgErr()
		}
		d, ok := parseDays(args[0])
		if !ok || d < atLeast || d > 3650*24*time.Hour {
			return 0, c.Errf("dnssec: %s %q is not a duration of at least %v (for example 90d, 1h or 0s)", what, args[0], atLeast)
		}
		return d, nil
	}
	var err error
	switch prop {
	case "keys":
		if len(args) != 1 || args[0] != "csk" && args[0] != "split" {
			return c.Errf("dnssec: keys takes csk (one combined key, the default) or split (a KSK and a ZSK)")
		}
		p.Split = args[0] == "split"
	case "ksk_lifetime":
		p.KSKLifetime, err = one(prop, time.Hour)
	case "zsk_lifetime":
		p.ZSKLifetime, err = one(prop, time.Hour)
	case "propagation_delay":
		p.Propagation, err = one(prop, 0)
		p.ParentPropagation = p.Propagation
	case "parent_ds_ttl":
		r.dsTTL, err = one(prop, 0)
	case "parent_check_interval":
		r.dsEvery, err = one(prop, time.Second)
	case "parent_servers":
		if len(args) == 0 {
			return c.ArgErr()
		}
		for _, a := range args {
			addr := hostPort(a)
			if host, _, e := net.SplitHostPort(addr); e != nil || net.ParseIP(host) == nil {
				return c.Errf("dnssec: parent_servers: %q is not an address (ADDRESS or ADDRESS:PORT)", a)
			}
			r.parents = append(r.parents, addr)
		}
	case "no_child_ds":
		if len(args) == 0 {
			return c.ArgErr()
		}
		for _, a := range args {
			if _, ok := dns.IsDomainName(a); !ok {
				return c.Errf("dnssec: no_child_ds: %q is not a domain name", a)
			}
			r.noChildDS = append(r.noChildDS, dns.CanonicalName(a))
		}
	default:
		return c.Errf("dnssec: unknown property %q; use nsec, nsec3, signature_validity, zones, keys, ksk_lifetime, "+
			"zsk_lifetime, propagation_delay, parent_ds_ttl, parent_servers, parent_check_interval or no_child_ds", prop)
	}
	return err
}
