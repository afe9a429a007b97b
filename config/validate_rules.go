package config

import (
	"fmt"
	"regexp"
	"strings"
)

func (v *checker) rules() {
	names := map[string]int{}
	for i, r := range v.c.Rules {
		k := fmt.Sprintf("rules[%d]", i)
		if j, dup := names[r.Name]; dup && r.Name != "" {
			v.add(k+".name", "duplicate rule name %q (also rules[%d])", r.Name, j)
		} else {
			names[r.Name] = i
		}
		var matchers []string
		for _, m := range []struct{ key, val string }{{"path", r.Path}, {"prefix", r.Prefix}, {"regex", r.Regex}} {
			if m.val != "" {
				matchers = append(matchers, m.key)
			}
		}
		if len(matchers) > 1 {
			v.add(k+"."+matchers[1], "set at most one of path, prefix and regex (also has %s)", matchers[0])
		}
		if r.Path != "" && !strings.HasPrefix(r.Path, "/") {
			v.add(k+".path", "must start with /")
		}
		if r.Prefix != "" && !strings.HasPrefix(r.Prefix, "/") {
			v.add(k+".prefix", "must start with /")
		}
		if r.Regex != "" {
			if _, err := regexp.Compile(r.Regex); err != nil {
				v.add(k+".regex", "does not compile (RE2 syntax): %v", err)
			}
		}
		for j, m := range r.Methods {
			mk := fmt.Sprintf("%s.methods[%d]", k, j)
			switch {
			case m == "*":
				v.add(mk, "leave methods out to match every method")
			case !isToken(m):
				v.add(mk, "%q is not an HTTP method", m)
			case m != strings.ToUpper(m):
				v.add(mk, "%q must be upper case (%q): methods are case-sensitive", m, strings.ToUpper(m))
			}
		}
		if r.Host != "" && !validHostPattern(r.Host) {
			v.add(k+".host", "%q must be a host name such as app.example.com or *.example.com (no scheme, port or path)", r.Host)
		}
		switch set := r.Allow.IsSet(); {
		case set && r.Deny:
			v.add(k+".deny", "set either allow or deny: true, not both")
		case !set && !r.Deny:
			v.add(k+".allow", "is required (public, authenticated or a mapping), unless the rule has deny: true")
		}
		v.allow(k+".allow", r.Allow)
	}
}

func (v *checker) allow(k string, a Allow) {
	if a.Public && (a.Authenticated || a.MFA || len(a.Roles)+len(a.Groups)+len(a.Emails)+len(a.Domains)+len(a.Users)+len(a.Providers) > 0) {
		v.add(k, "public cannot be combined with other criteria")
	}
	for j, role := range a.Roles {
		if _, ok := v.c.Roles[role]; !ok {
			v.add(fmt.Sprintf("%s.roles[%d]", k, j), "role %q is not defined under roles", role)
		}
	}
	v.criteria(k, a.Emails, a.Groups, a.Domains, a.Users, a.Providers)
}

func (v *checker) upstreams() {
	seen := map[string]int{}
	for i, u := range v.c.Upstreams {
		k := fmt.Sprintf("upstreams[%d]", i)
		if u.URL == "" {
			v.add(k+".url", "is required")
		} else if err := checkHTTPURL(u.URL); err != nil {
			v.add(k+".url", "%v", err)
		}
		if !strings.HasPrefix(u.Path, "/") {
			v.add(k+".path", "must start with /")
		}
		if u.Host != "" && !validHostPattern(u.Host) {
			v.add(k+".host", "%q must be a host name such as app.example.com or *.example.com (no scheme, port or path)", u.Host)
		}
		// The proxy takes a timeout that is not positive for "use
		// server.upstream_timeout", so a negative one would silently mean
		// the default.
		v.nonNegative(k+".timeout", u.Timeout)
		// httputil.ReverseProxy reads a negative flush_interval as "flush
		// after every write". Gatehouse does not document that, and it would
		// only matter for bodies of known length: event streams and bodies
		// of unknown length are flushed at once anyway. So it is refused
		// rather than left as an accident of the implementation.
		v.nonNegative(k+".flush_interval", u.FlushInterval)
		route := strings.ToLower(u.Host) + u.Path
		if j, dup := seen[route]; dup {
			v.add(k, "duplicate host and path (also upstreams[%d])", j)
		} else {
			seen[route] = i
		}
	}
}
