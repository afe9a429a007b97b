package policy

import (
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/identity"
)

// Decide returns what to do with req for id (nil = anonymous). It performs no
// I/O, does not modify id, and is safe for concurrent use.
//
// req.Path must be the output of NormalizePath and req.Host the output of
// CanonicalHost (Decide canonicalises the host again, so a raw Host header is
// judged case-insensitively regardless). A path that does not start with "/"
// or that holds '?', '#' or '\' is refused with Forbid: Decide fails closed
// rather than judge something the adapter forgot to normalise.
//
// The first rule whose host, path, prefix, regex and methods all match
// decides; a criterion left empty matches anything.
//   - host: exact, or "*.example.com" for any subdomain of example.com at a
//     label boundary (not example.com itself); the request's port is ignored
//     unless the rule's host names one, which must then be present and equal.
//   - path: the whole normalised path, exactly ("/a" and "/a/" differ).
//   - prefix: segment-aware; "/admin" and "/admin/" both match "/admin",
//     "/admin/" and "/admin/x" but never "/administrator". An encoded slash
//     or backslash (%2F, %5C) after the prefix also counts as a boundary,
//     because many upstreams decode it: "/admin%2Fx" matches "/admin".
//   - regex: RE2, searched in the normalised escaped path only; the query is
//     never part of it.
//   - methods: exact, upper-case. A rule listing GET also matches HEAD (a
//     HEAD is a GET without the body). A lower-case request method matches
//     no method list: adapters reject it first with ValidMethod.
//
// Outcomes: a deny rule forbids. allow: public allows. allow: authenticated
// allows any identity and asks anonymous callers to log in (Login). An allow
// with criteria asks anonymous callers to log in, allows an identity that
// matches any one criterion (roles derived from the configuration by Roles,
// never id.Roles; groups; verified emails; verified email domains; user
// names; providers) and, when mfa is set, also signed in with a second
// factor; anyone else is forbidden. With mfa set on an authenticated rule, an
// identity without MFA is forbidden. No match: see New for the default.
func (p *Policy) Decide(id *identity.Identity, req Request) Decision {
	if req.Path == "" || req.Path[0] != '/' || strings.ContainsAny(req.Path, "?#\\") {
		return Decision{Result: Forbid, Rule: DefaultRuleName, RuleIndex: -1, Reason: "invalid request path (not normalised)"}
	}
	req.Path = p.fold(req.Path) // allocates only when the path has upper-case letters (and below, only when a segment ends in a dot or space)
	host, port := splitHostPort(CanonicalHost(req.Host))
	i := p.firstMatch(host, port, req)
	if p.foldCase && hasTrailingDotOrSpace(req.Path) {
		// Windows, whose upstreams are why paths fold, drops a name's
		// trailing dots and spaces: it serves /admin./x as /admin/x. A path
		// that a rule judges differently in the two forms is refused rather
		// than guessed at (the upstream may or may not be Windows); one that
		// both forms give the same rule (/wiki/Washington,_D.C.) passes as
		// written.
		trimmed := req
		trimmed.Path = trimTrailingDotsAndSpaces(req.Path)
		if p.firstMatch(host, port, trimmed) != i {
			return Decision{Result: Forbid, Rule: DefaultRuleName, RuleIndex: -1, Reason: "ambiguous path: a segment ends in a dot or space, which Windows ignores, and the rules judge the two forms differently"}
		}
	}
	if i >= 0 {
		return p.outcome(i, &p.rules[i], id)
	}
	d := Decision{Result: Forbid, Rule: DefaultRuleName, RuleIndex: -1, Reason: "no rule matched; default deny"}
	if p.defAuth {
		if id == nil {
			d.Result, d.Reason = Login, "no rule matched; default authenticated: sign-in required"
		} else {
			d.Result, d.Reason = Allow, "no rule matched; default authenticated"
		}
	}
	return d
}

// firstMatch is the index of the first rule matching the (folded) request,
// or -1.
func (p *Policy) firstMatch(host, port string, req Request) int {
	candidates, ok := p.byHost[host]
	if !ok {
		candidates = p.otherHost
	}
	for _, i := range candidates {
		if p.rules[i].matches(host, port, req) {
			return i
		}
	}
	return -1
}

func (p *Policy) outcome(i int, r *rule, id *identity.Identity) Decision {
	d := Decision{Result: Forbid, Rule: r.name, RuleIndex: i}
	switch {
	case r.deny:
		d.Reason = r.reasonDeny
	case r.kind == allowPublic:
		d.Result, d.Reason = Allow, r.reasonPublic
	case id == nil:
		d.Result, d.Reason = Login, r.reasonLogin
	case r.kind == allowAuthenticated:
		if r.mfa && !id.MFA {
			d.Reason = r.reasonMFA
		} else {
			d.Result, d.Reason = Allow, r.reasonAuth
		}
	default:
		why := r.crit.match(id, p.roles)
		switch {
		case why == "":
			d.Reason = r.reasonNoMatch
		case r.mfa && !id.MFA:
			d.Reason = r.reasonMFA
		default:
			d.Result, d.Reason = Allow, r.reasonAllowed[why]
		}
	}
	return d
}

// matchesRole reports whether id earns the role these criteria define.
func (c *criteria) matchesRole(id *identity.Identity) bool {
	return c != nil && id != nil && c.match(id, nil) != ""
}

// Roles returns the roles id earns from the configuration's roles section,
// sorted and without duplicates; nil for an anonymous caller. A role is earned
// when any one of its criteria matches: emails (verified only, ASCII
// case-insensitive), groups, email domains (of a verified email holding
// exactly one '@'), user names (Identity.UserName, ASCII case-insensitive) or
// providers. id.Roles is ignored. Roles performs no I/O.
func (p *Policy) Roles(id *identity.Identity) []string {
	if id == nil {
		return nil
	}
	var out []string
	for _, name := range p.roleNames {
		if p.roles[name].matchesRole(id) {
			out = append(out, name)
		}
	}
	return out
}

func (r *rule) matches(host, port string, req Request) bool {
	if r.hasHost && !r.host.matches(host, port) {
		return false
	}
	if r.path != "" && req.Path != r.path {
		return false
	}
	if r.hasPrefix && !prefixMatch(req.Path, r.prefix) {
		return false
	}
	if len(r.methods) > 0 && !slices.Contains(r.methods, req.Method) {
		return false
	}
	if r.re != nil && !r.re.MatchString(req.Path) {
		return false
	}
	return true
}

func (h *hostPattern) matches(host, port string) bool {
	if h.port != "" && port != h.port {
		return false
	}
	if !h.wildcard {
		return host == h.name
	}
	// ".example.com": at least one non-empty label in front of it.
	n := len(host) - len(h.name)
	return n > 0 && strings.HasSuffix(host, h.name) && host[n-1] != '.'
}

// prefixMatch is segment-aware: prefix has no trailing slash ("" = root).
func prefixMatch(path, prefix string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	rest := path[len(prefix):]
	if rest == "" || rest[0] == '/' {
		return true
	}
	if len(rest) >= 3 && rest[0] == '%' {
		esc := rest[1:3]
		return strings.EqualFold(esc, "2F") || strings.EqualFold(esc, "5C")
	}
	return false
}

// splitHostPort splits "host:port", "[v6]:port", "host" or "[v6]". A bare
// IPv6 address (several colons, no brackets) has no port.
func splitHostPort(hp string) (host, port string) {
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return hp, ""
		}
		if rest := hp[end+1:]; strings.HasPrefix(rest, ":") {
			return hp[:end+1], rest[1:]
		}
		return hp[:end+1], ""
	}
	if i := strings.IndexByte(hp, ':'); i >= 0 && strings.LastIndexByte(hp, ':') == i {
		return hp[:i], hp[i+1:]
	}
	return hp, ""
}
