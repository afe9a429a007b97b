package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/identity"
)

// criteria are alternatives: an identity matching any one of them matches.
// Emails, domains and users compare ASCII-case-insensitively (no Unicode
// folding, so "\u212Aarol" never equals "karol"); groups, roles and providers
// compare exactly.
type criteria struct {
	roles  []string
	groups []string // as configured
	// groupIn and groupName split each groups entry: "provider:group" for a
	// configured provider's id holds only for that provider's identities;
	// any other entry is a plain group name and holds for any provider.
	groupIn, groupName []string
	emails             map[string]struct{}            // lower-cased
	domains            map[string]struct{}            // lower-cased
	users              map[string]struct{}            // plain entries, lower-cased
	usersIn            map[string]map[string]struct{} // "provider:name" entries: provider → lower-cased names
	providers          []string

	// As configured, for reasons.
	emailList, domainList, userList []string

	// Phrases for Decision.Reason, built once by explain.
	whyRoles, whyGroups, whyProviders []string
	whyDomains                        map[string]string
}

// compileCriteria compiles one allow or role. known holds the ids of the
// configured providers: a users or groups entry "id:value" whose prefix is
// one of them names a value from that provider only (SECURITY.md A055: user
// and group names are not unique across identity providers).
func compileCriteria(emails, groups, domains, users, providers []string, known map[string]bool) (*criteria, error) {
	// Cloned: the caller's config must not change a compiled policy.
	c := &criteria{groups: slices.Clone(groups), providers: slices.Clone(providers),
		emailList: slices.Clone(emails), domainList: slices.Clone(domains), userList: slices.Clone(users)}
	for _, g := range groups {
		in, name := splitQualified(g, known)
		c.groupIn, c.groupName = append(c.groupIn, in), append(c.groupName, name)
	}
	var plainUsers []string
	for _, u := range users {
		in, name := splitQualified(u, known)
		if in == "" {
			plainUsers = append(plainUsers, u)
			continue
		}
		if name == "" {
			return nil, fmt.Errorf("users: %q names no user", u)
		}
		if c.usersIn == nil {
			c.usersIn = map[string]map[string]struct{}{}
		}
		if c.usersIn[in] == nil {
			c.usersIn[in] = map[string]struct{}{}
		}
		c.usersIn[in][asciiLower(name)] = struct{}{}
	}
	var err error
	if c.emails, err = lowerSet("emails", emails); err != nil {
		return nil, err
	}
	for _, e := range emails {
		if strings.Count(e, "@") != 1 || strings.HasPrefix(e, "@") || strings.HasSuffix(e, "@") {
			return nil, fmt.Errorf("emails: %q is not an email address", e)
		}
	}
	if c.domains, err = lowerSet("domains", domains); err != nil {
		return nil, err
	}
	for _, d := range domains {
		if strings.ContainsAny(d, "@ ") {
			return nil, fmt.Errorf("domains: %q: want a bare domain such as example.com", d)
		}
	}
	if c.users, err = lowerSet("users", plainUsers); err != nil {
		return nil, err
	}
	for i, g := range c.groupName {
		if g == "" && c.groupIn[i] != "" {
			return nil, fmt.Errorf("groups: %q names no group", groups[i])
		}
	}
	for _, list := range [][]string{groups, providers} {
		for _, v := range list {
			if v == "" {
				return nil, errors.New("empty entry in groups or providers")
			}
		}
	}
	c.explain()
	return c, nil
}

// splitQualified splits "provider:value" when provider is a known id, and
// returns ("", v) for anything else.
func splitQualified(v string, known map[string]bool) (provider, value string) {
	if p, rest, ok := strings.Cut(v, ":"); ok && known[p] {
		return p, rest
	}
	return "", v
}

func lowerSet(key string, vals []string) (map[string]struct{}, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	m := make(map[string]struct{}, len(vals))
	for _, v := range vals {
		if v == "" {
			return nil, fmt.Errorf("%s: empty entry", key)
		}
		m[asciiLower(v)] = struct{}{}
	}
	return m, nil
}

func (c *criteria) empty() bool {
	return len(c.roles) == 0 && len(c.groups) == 0 && len(c.emails) == 0 &&
		len(c.domains) == 0 && len(c.users) == 0 && len(c.usersIn) == 0 && len(c.providers) == 0
}

// match reports which criterion id satisfies ("" when none), as a phrase
// fixed at compile time (no allocation). roles answers role membership
// (derived from config, never from id.Roles); nil means no role can match.
func (c *criteria) match(id *identity.Identity, roles map[string]*criteria) string {
	for i, r := range c.roles {
		if rc := roles[r]; rc != nil && rc.match(id, nil) != "" {
			return c.whyRoles[i]
		}
	}
	for i, g := range c.groupName {
		if (c.groupIn[i] == "" || c.groupIn[i] == id.Provider) && id.InGroup(g) {
			return c.whyGroups[i]
		}
	}
	if len(c.emails) > 0 && id.EmailVerified && id.Email != "" {
		if _, ok := c.emails[asciiLower(id.Email)]; ok {
			return "verified email"
		}
	}
	if len(c.domains) > 0 {
		if d := id.EmailDomain(); d != "" {
			if why, ok := c.whyDomains[asciiLower(d)]; ok {
				return why
			}
		}
	}
	if len(c.users) > 0 || len(c.usersIn) > 0 {
		name := asciiLower(id.UserName())
		if _, ok := c.users[name]; ok {
			return "user name"
		}
		if _, ok := c.usersIn[id.Provider][name]; ok {
			return "user name"
		}
	}
	for i, p := range c.providers {
		if id.Provider == p {
			return c.whyProviders[i]
		}
	}
	return ""
}

// explain fills the phrases match returns; call it after roles are set.
func (c *criteria) explain() {
	quote := func(kind string, vals []string) []string {
		out := make([]string, len(vals))
		for i, v := range vals {
			out[i] = fmt.Sprintf("%s %q", kind, v)
		}
		return out
	}
	c.whyRoles, c.whyGroups, c.whyProviders = quote("role", c.roles), quote("group", c.groups), quote("provider", c.providers)
	c.whyDomains = make(map[string]string, len(c.domains))
	for d := range c.domains {
		c.whyDomains[d] = fmt.Sprintf("email domain %q", d)
	}
}

// whys lists every phrase match can return.
func (c *criteria) whys() []string {
	out := []string{"verified email", "user name"}
	out = append(out, c.whyRoles...)
	out = append(out, c.whyGroups...)
	out = append(out, c.whyProviders...)
	for _, w := range c.whyDomains {
		out = append(out, w)
	}
	return out
}

// describeMiss explains, for logs and explain, why no criterion matched.
func (c *criteria) describeMiss() string {
	var parts []string
	add := func(kind string, vals []string) {
		if len(vals) > 0 {
			parts = append(parts, fmt.Sprintf("%s %v", kind, vals))
		}
	}
	add("roles", c.roles)
	add("groups", c.groups)
	add("emails", c.emailList)
	add("domains", c.domainList)
	add("users", c.userList)
	add("providers", c.providers)
	if len(parts) == 1 {
		return "user is not in " + parts[0]
	}
	return "user matches none of " + strings.Join(parts, ", ")
}

// asciiLower lower-cases ASCII letters only, returning s itself when it has
// none to change.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
