// Package policy decides, from a request and an identity, whether the request
// may pass. It owns all authorization in gatehouse (DESIGN.md convention 5):
// adapters only turn a Decision into a response. It also owns the one path
// normalisation (NormalizePath) whose output both the rules and the upstream
// see, so the two can never disagree about which path was asked for.
package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/config"
)

// ErrInvalidConfig is wrapped by every error New returns.
var ErrInvalidConfig = errors.New("policy: invalid configuration")

// DefaultRuleName is Decision.Rule when no rule matched.
const DefaultRuleName = "(default)"

// Policy is a compiled, immutable rule set. Build it once with New; it is
// safe for concurrent use by any number of goroutines.
type Policy struct {
	rules     []rule
	byHost    map[string][]int // exact rule host → indices of the rules that can match it, in order
	otherHost []int            // indices of the rules that can match any other host
	src       []config.Rule
	roles     map[string]*criteria
	roleNames []string // sorted
	defAuth   bool     // default: authenticated (else deny)
	// foldCase: rule paths and prefixes are stored, and request paths
	// compared, in ASCII lower case; regexes get (?i). See
	// config.Config.CaseSensitivePaths.
	foldCase bool
	known    map[string]bool // provider ids, for "provider:name" users and groups
}

// FoldPath is a normalised path in the form rule comparisons use: lower
// case unless case_sensitive_paths. Decide folds by itself; a caller that
// also compares the path elsewhere (upstream routing) folds once and passes
// the result to both, so the copy is made once.
func (p *Policy) FoldPath(path string) string { return p.fold(path) }

// fold is the form of a rule or request path that comparisons use.
func (p *Policy) fold(path string) string {
	if p.foldCase {
		return asciiLower(path)
	}
	return path
}

// allowKind is what a non-deny rule requires.
type allowKind int

const (
	allowPublic allowKind = iota
	allowAuthenticated
	allowCriteria
)

type rule struct {
	name      string // display name: the configured name or "#<index>"
	hasHost   bool
	host      hostPattern
	path      string
	hasPrefix bool
	prefix    string // without trailing slash; "" means every path
	re        *regexp.Regexp
	methods   []string // GET implies HEAD
	deny      bool
	kind      allowKind
	crit      criteria
	mfa       bool

	// Reasons, precomputed so Decide does not format on its hot paths.
	reasonDeny, reasonPublic, reasonAuth, reasonLogin, reasonMFA, reasonNoMatch string
	reasonAllowed                                                               map[string]string // by criteria phrase
}

// hostPattern is a compiled rule host: exact, or "*.suffix" (wildcard).
type hostPattern struct {
	wildcard bool
	name     string // exact host name, or ".suffix" for a wildcard
	port     string // "" = any port
}

// New compiles cfg's rules, roles and default once. It reports every invalid
// rule (joined, each wrapping ErrInvalidConfig): an unparsable regex, a path or
// prefix that is not already in NormalizePath's form (such a rule could never
// match), a method that is not an upper-case token, a rule that is both deny
// and allow, a non-deny rule with no allow at all (an all-zero Allow: neither
// public, authenticated, mfa nor any criterion), public or authenticated
// combined with criteria, allow.roles naming a role that cfg.Roles does not
// define, a role with no criterion, and an unknown default. An allow of only
// mfa: true means authenticated with MFA, as the config loader reads it.
//
// Default: "deny" (or "") forbids (403) every request no rule matched, for
// anonymous callers too, as Authelia's default_policy: deny does.
// "authenticated" allows any identity and asks anonymous callers to log in.
//
// Rules are copied; cfg is not retained or modified.
func New(cfg *config.Config) (*Policy, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: nil config", ErrInvalidConfig)
	}
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...))
	}
	p := &Policy{roles: make(map[string]*criteria, len(cfg.Roles)), foldCase: !cfg.CaseSensitivePaths, known: map[string]bool{}}
	for _, pc := range cfg.Providers {
		p.known[pc.ID] = true
	}
	switch cfg.Default {
	case "", "deny":
	case "authenticated":
		p.defAuth = true
	default:
		bad("default: %q is not deny or authenticated", cfg.Default)
	}
	for name, spec := range cfg.Roles {
		c, err := compileCriteria(spec.Emails, spec.Groups, spec.Domains, spec.Users, spec.Providers, p.known)
		if err != nil {
			bad("roles.%s: %v", name, err)
			continue
		}
		if c.empty() {
			bad("roles.%s: no criterion (emails, groups, domains, users or providers)", name)
		}
		p.roles[name] = c
		p.roleNames = append(p.roleNames, name)
	}
	slices.Sort(p.roleNames)
	for i, rc := range cfg.Rules {
		r, err := p.compileRule(i, rc)
		if err != nil {
			bad("rules[%d] (%s): %v", i, displayName(i, rc.Name), err)
			continue
		}
		p.rules = append(p.rules, r)
		p.src = append(p.src, cloneRule(rc))
	}
	// Upstreams are routed by the same normalised path the rules judge, so
	// an upstream path outside that form would never be chosen; it is
	// checked here, where `gatehouse check` and start-up both see it.
	for i, u := range cfg.Upstreams {
		if err := checkRulePath("path", u.Path); err != nil {
			bad("upstreams[%d]: %v", i, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	p.indexHosts()
	return p, nil
}

// Len returns the number of rules.
func (p *Policy) Len() int { return len(p.rules) }

// Rule returns a copy of rule i as configured (for `gatehouse explain`), and
// false when i is out of range (the default has index -1).
func (p *Policy) Rule(i int) (config.Rule, bool) {
	if i < 0 || i >= len(p.src) {
		return config.Rule{}, false
	}
	return cloneRule(p.src[i]), true
}

func cloneRule(r config.Rule) config.Rule {
	r.Methods = slices.Clone(r.Methods)
	a := &r.Allow
	a.Roles, a.Groups, a.Emails = slices.Clone(a.Roles), slices.Clone(a.Groups), slices.Clone(a.Emails)
	a.Domains, a.Users, a.Providers = slices.Clone(a.Domains), slices.Clone(a.Users), slices.Clone(a.Providers)
	return r
}

func displayName(i int, name string) string {
	if name != "" {
		return name
	}
	return fmt.Sprintf("#%d", i)
}

// allowGiven reports whether the rule says anything in allow.
func allowGiven(a config.Allow) bool {
	return a.IsSet() || a.Public || a.Authenticated || a.MFA || len(a.Roles) > 0 || len(a.Groups) > 0 ||
		len(a.Emails) > 0 || len(a.Domains) > 0 || len(a.Users) > 0 || len(a.Providers) > 0
}

func (p *Policy) compileRule(i int, rc config.Rule) (rule, error) {
	r := rule{name: displayName(i, rc.Name), deny: rc.Deny}
	if rc.Host != "" {
		h, err := compileHost(rc.Host)
		if err != nil {
			return r, err
		}
		r.hasHost, r.host = true, h
	}
	if rc.Path != "" {
		if err := checkRulePath("path", rc.Path); err != nil {
			return r, err
		}
		r.path = p.fold(rc.Path)
	}
	if rc.Prefix != "" {
		if err := checkRulePath("prefix", rc.Prefix); err != nil {
			return r, err
		}
		r.hasPrefix, r.prefix = true, p.fold(strings.TrimRight(rc.Prefix, "/"))
	}
	if rc.Regex != "" {
		expr := rc.Regex
		if p.foldCase {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return r, fmt.Errorf("regex: %v", err)
		}
		r.re = re
	}
	for _, m := range rc.Methods {
		if !ValidMethod(m) {
			return r, fmt.Errorf("methods: %q is not an upper-case HTTP method", m)
		}
		r.methods = append(r.methods, m)
		if m == "GET" && !slices.Contains(rc.Methods, "HEAD") {
			r.methods = append(r.methods, "HEAD")
		}
	}
	a := rc.Allow
	q := fmt.Sprintf("rule %q: ", r.name)
	r.reasonDeny = q + "denied by rule"
	r.reasonLogin = q + "sign-in required"
	r.reasonMFA = q + "multi-factor authentication required"
	switch {
	case rc.Deny && allowGiven(a):
		return r, errors.New("deny and allow are exclusive")
	case rc.Deny:
		return r, nil
	case !allowGiven(a):
		return r, errors.New("allow is missing: give public, authenticated, or criteria (roles, groups, emails, domains, users, providers)")
	}
	c, err := compileCriteria(a.Emails, a.Groups, a.Domains, a.Users, a.Providers, p.known)
	if err != nil {
		return r, fmt.Errorf("allow: %v", err)
	}
	for _, role := range a.Roles {
		if _, ok := p.roles[role]; !ok {
			return r, fmt.Errorf("allow.roles: role %q is not defined under roles", role)
		}
	}
	c.roles = slices.Clone(a.Roles)
	c.explain()
	r.crit, r.mfa = *c, a.MFA
	r.reasonAllowed = map[string]string{}
	for _, why := range c.whys() {
		r.reasonAllowed[why] = q + "allowed by " + why
	}
	switch {
	case a.Public && (a.Authenticated || a.MFA || !c.empty()):
		return r, errors.New("allow: public cannot be combined with authenticated, mfa or criteria")
	case a.Public:
		r.kind = allowPublic
		r.reasonPublic = q + "public"
	case a.Authenticated && !c.empty():
		return r, errors.New("allow: authenticated cannot be combined with criteria (any identity already matches)")
	case a.Authenticated || c.empty():
		// {mfa: true} alone means authenticated with MFA, as config reads it.
		r.kind = allowAuthenticated
		r.reasonAuth = q + "authenticated"
	default:
		r.kind = allowCriteria
		r.reasonNoMatch = q + c.describeMiss()
	}
	return r, nil
}

// checkRulePath requires a rule path or prefix to be in NormalizePath's form,
// since Decide only ever sees normalised paths.
func checkRulePath(key, v string) error {
	n, err := NormalizePath(v)
	if err != nil {
		return fmt.Errorf("%s %q: %v", key, v, err)
	}
	if n != v {
		return fmt.Errorf("%s %q is not normalised (write %q)", key, v, n)
	}
	return nil
}

// HostMatcher matches a request's host as a rule's host criterion does (see
// Decide): exactly, or "*.example.com" for any subdomain of example.com at a
// label boundary; the request's port counts only if the pattern names one.
// The proxy routes to upstreams with it, so that an upstream's host and a
// rule's host mean the same thing.
type HostMatcher struct{ p hostPattern }

// NewHostMatcher compiles "host", "host:port", "*.suffix" or "*.suffix:port".
func NewHostMatcher(h string) (HostMatcher, error) {
	p, err := compileHost(h)
	return HostMatcher{p}, err
}

// Match reports whether hostport, a CanonicalHost value, matches.
func (m HostMatcher) Match(hostport string) bool {
	host, port := splitHostPort(hostport)
	return m.p.matches(host, port)
}

// Wildcard reports whether m is a "*.suffix" pattern, and Len the length of
// its host name (the suffix's, with its leading dot, for a wildcard): with
// them a router can put exact hosts before wildcards and longer suffixes
// before shorter ones.
func (m HostMatcher) Wildcard() bool { return m.p.wildcard }
func (m HostMatcher) Len() int       { return len(m.p.name) }

// compileHost parses "host", "host:port", "*.suffix" or "*.suffix:port".
func compileHost(h string) (hostPattern, error) {
	c := CanonicalHost(h)
	name, port := splitHostPort(c)
	if port != "" && !allDigits(port) {
		return hostPattern{}, fmt.Errorf("host %q: invalid port", h)
	}
	hp := hostPattern{name: name, port: port}
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		hp.wildcard, hp.name = true, "."+rest
		name = rest
	}
	if name == "" || strings.ContainsAny(name, "*/@\\?#% \t") || strings.HasPrefix(name, ".") || strings.Contains(name, "..") {
		return hostPattern{}, fmt.Errorf("host %q: want host, host:port or *.domain", h)
	}
	return hp, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// indexHosts lets Decide skip the rules bound to other exact hosts: for each
// exact rule host it lists, in rule order, the rules that can match that
// host (its own, the host-less and the wildcard ones); any other host gets
// only the host-less and wildcard rules. First-match order is unchanged.
func (p *Policy) indexHosts() {
	p.byHost = map[string][]int{}
	for _, r := range p.rules {
		if r.hasHost && !r.host.wildcard {
			p.byHost[r.host.name] = nil
		}
	}
	for i, r := range p.rules {
		exact := r.hasHost && !r.host.wildcard
		if !exact {
			p.otherHost = append(p.otherHost, i)
		}
		for h := range p.byHost {
			if !exact || r.host.name == h {
				p.byHost[h] = append(p.byHost[h], i)
			}
		}
	}
}
