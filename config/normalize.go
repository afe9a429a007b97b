package config

import (
	"strings"
)

// normalize puts a valid Config into canonical form: host names lower-cased,
// public_url without a trailing slash, trusted proxies parsed. Slices it
// changes are replaced, not edited in place, so a caller's slices survive.
func (c *Config) normalize() {
	s := &c.Server
	s.PublicURL = strings.TrimSuffix(s.PublicURL, "/")
	s.TrustedPrefixes = nil
	for _, tp := range s.TrustedProxies {
		if p, err := parseProxy(tp); err == nil {
			s.TrustedPrefixes = append(s.TrustedPrefixes, p)
		}
	}
	s.AllowedRedirectDomains = lowerAll(s.AllowedRedirectDomains)
	c.Session.Cookie.Domain = strings.ToLower(c.Session.Cookie.Domain)

	if len(c.Providers) > 0 {
		c.Providers = append([]Provider(nil), c.Providers...)
		for i := range c.Providers {
			c.Providers[i].HostedDomain = strings.ToLower(c.Providers[i].HostedDomain)
		}
	}
	if len(c.Roles) > 0 {
		roles := make(map[string]RoleSpec, len(c.Roles))
		for name, r := range c.Roles {
			r.Domains = lowerAll(r.Domains)
			roles[name] = r
		}
		c.Roles = roles
	}
	if len(c.Rules) > 0 {
		c.Rules = append([]Rule(nil), c.Rules...)
		for i := range c.Rules {
			r := &c.Rules[i]
			r.Host = strings.ToLower(r.Host)
			r.Allow.Domains = lowerAll(r.Allow.Domains)
		}
	}
	if len(c.Upstreams) > 0 {
		c.Upstreams = append([]Upstream(nil), c.Upstreams...)
		for i := range c.Upstreams {
			c.Upstreams[i].Host = strings.ToLower(c.Upstreams[i].Host)
		}
	}
}

func lowerAll(list []string) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = strings.ToLower(s)
	}
	return out
}
