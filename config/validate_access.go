package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

var (
	providerIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	githubOrgRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}$`)
	githubTeamRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	bearerAlgs   = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}
	promptValues = []string{"none", "login", "consent", "select_account"}
)

func (v *checker) providers() {
	c := v.c
	if len(c.Providers) == 0 && len(c.Bearer.Issuers) == 0 {
		v.add("providers", "at least one provider (or a bearer.issuers entry) is required")
	}
	ids := map[string]int{}
	firstLocal := -1
	for i, p := range c.Providers {
		k := fmt.Sprintf("providers[%d]", i)
		// The gateway has one password form, wired to one local provider, so
		// start-up refuses a second; saying so here lets gatehouse check
		// catch it before a deploy.
		if p.Type == "local" {
			if firstLocal >= 0 {
				v.add(k+".type", "only one local provider is allowed (also providers[%d])", firstLocal)
			} else {
				firstLocal = i
			}
		}
		switch j, dup := ids[p.ID]; {
		case p.ID == "":
			v.add(k+".id", "is required")
		case !providerIDRE.MatchString(p.ID):
			v.add(k+".id", "%q must match %s", p.ID, providerIDRE)
		case dup:
			v.add(k+".id", "duplicate id %q (also providers[%d])", p.ID, j)
		default:
			ids[p.ID] = i
		}
		v.provider(k, p)
	}
}

func (v *checker) provider(k string, p Provider) {
	need := func(key, val, msg string) {
		if val == "" {
			v.add(k+"."+key, "is required%s", msg)
		}
	}
	url := func(key, val string) {
		if val != "" {
			if err := checkHTTPURL(val); err != nil {
				v.add(k+"."+key, "%v", err)
			}
		}
	}
	only := func(key string, set bool, types ...string) {
		if set && !slices.Contains(types, p.Type) {
			v.add(k+"."+key, "applies only to %s providers", strings.Join(types, " and "))
		}
	}
	switch p.Type {
	case "oidc", "google":
		need("issuer", p.Issuer, " for oidc providers")
		url("issuer", p.Issuer)
		need("client_id", p.ClientID, "")
		if p.Type == "google" {
			need("client_secret", p.ClientSecret, " (or client_secret_file)")
		}
		if len(p.Scopes) > 0 && !slices.Contains(p.Scopes, "openid") {
			v.add(k+".scopes", "must include openid")
		}
		if p.HostedDomain != "" && !validHostname(p.HostedDomain) {
			v.add(k+".hosted_domain", "must be a domain such as example.com")
		}
		for _, word := range strings.Fields(p.Prompt) {
			if !slices.Contains(promptValues, word) {
				v.add(k+".prompt", "must be a space-separated list of %s", strings.Join(promptValues, ", "))
				break
			}
		}
	case "github":
		need("client_id", p.ClientID, "")
		need("client_secret", p.ClientSecret, " (or client_secret_file)")
		for j, o := range p.Orgs {
			if !githubOrgRE.MatchString(o) {
				v.add(fmt.Sprintf("%s.orgs[%d]", k, j), "%q is not a GitHub organisation name", o)
			}
		}
		for j, t := range p.Teams {
			org, team, ok := strings.Cut(t, "/")
			if !ok || !githubOrgRE.MatchString(org) || !githubTeamRE.MatchString(team) {
				v.add(fmt.Sprintf("%s.teams[%d]", k, j), "%q must be org/team-slug, such as acme/ops", t)
			}
		}
		for _, u := range []struct{ key, val string }{{"auth_url", p.AuthURL}, {"token_url", p.TokenURL}, {"api_url", p.APIURL}} {
			need(u.key, u.val, "")
			url(u.key, u.val)
		}
	case "local":
		need("users_file", p.UsersFile, " for local providers")
		v.oneOf(k+".totp", p.TOTP, "required", "optional", "off")
	case "":
		v.add(k+".type", "is required (oidc, google, github or local)")
		return
	default:
		v.add(k+".type", "must be one of oidc, google, github, local, not %q", p.Type)
		return
	}
	only("issuer", p.Issuer != "", "oidc", "google")
	only("client_id", p.ClientID != "", "oidc", "google", "github")
	only("client_secret", p.ClientSecret != "", "oidc", "google", "github")
	only("scopes", len(p.Scopes) > 0, "oidc", "google", "github")
	only("groups_claim", p.GroupsClaim != "", "oidc", "google")
	only("prompt", p.Prompt != "", "oidc", "google")
	only("hosted_domain", p.HostedDomain != "", "google")
	only("orgs", len(p.Orgs) > 0, "github")
	only("teams", len(p.Teams) > 0, "github")
	only("auth_url", p.AuthURL != "", "github")
	only("token_url", p.TokenURL != "", "github")
	only("api_url", p.APIURL != "", "github")
	only("users_file", p.UsersFile != "", "local")
	only("totp", p.TOTP != "", "local")
}

func (v *checker) bearer() {
	seen := map[string]int{}
	for i, b := range v.c.Bearer.Issuers {
		k := fmt.Sprintf("bearer.issuers[%d]", i)
		if b.Issuer == "" {
			v.add(k+".issuer", "is required")
		} else if err := checkHTTPURL(b.Issuer); err != nil {
			v.add(k+".issuer", "%v", err)
		} else if j, dup := seen[b.Issuer]; dup {
			v.add(k+".issuer", "duplicate issuer (also bearer.issuers[%d])", j)
		} else {
			seen[b.Issuer] = i
		}
		if len(b.Audiences) == 0 {
			v.add(k+".audiences", "at least one audience is required")
		}
		for j, a := range b.Audiences {
			if a == "" {
				v.add(fmt.Sprintf("%s.audiences[%d]", k, j), "must not be empty")
			}
		}
		if b.JWKSURL != "" {
			if err := checkHTTPURL(b.JWKSURL); err != nil {
				v.add(k+".jwks_url", "%v", err)
			}
		}
		for j, a := range b.Algorithms {
			if !slices.Contains(bearerAlgs, a) {
				v.add(fmt.Sprintf("%s.algorithms[%d]", k, j), "%q is not allowed; use asymmetric algorithms only: %s", a, strings.Join(bearerAlgs, ", "))
			}
		}
		if b.GroupsClaim == "" {
			v.add(k+".groups_claim", "must not be empty")
		}
	}
}

// roles checks the role definitions, in name order.
func (v *checker) roles() {
	for _, name := range slices.Sorted(maps.Keys(v.c.Roles)) {
		r := v.c.Roles[name]
		k := "roles." + name
		if name == "" || strings.ContainsAny(name, ", \t\n") {
			v.add(k, "role name %q must be non-empty, without commas or spaces", name)
		}
		if len(r.Emails)+len(r.Groups)+len(r.Domains)+len(r.Users)+len(r.Providers) == 0 {
			v.add(k, "needs at least one of emails, groups, domains, users or providers")
		}
		v.criteria(k, r.Emails, r.Groups, r.Domains, r.Users, r.Providers)
	}
}

// criteria checks identity criteria lists shared by roles and allow.
func (v *checker) criteria(k string, emails, groups, domains, users, providers []string) {
	known := map[string]bool{}
	for _, p := range v.c.Providers {
		known[p.ID] = true
	}
	list := func(name string, vals []string, check func(string) string) {
		for j, val := range vals {
			if msg := check(val); msg != "" {
				v.add(fmt.Sprintf("%s.%s[%d]", k, name, j), "%s", msg)
			}
		}
	}
	nonEmpty := func(s string) string {
		if s == "" {
			return "must not be empty"
		}
		return ""
	}
	list("emails", emails, func(s string) string {
		if !strings.Contains(s, "@") {
			return fmt.Sprintf("%q is not an email address", s)
		}
		return ""
	})
	list("groups", groups, nonEmpty)
	list("users", users, nonEmpty)
	list("domains", domains, func(s string) string {
		if !validHostname(s) {
			return fmt.Sprintf("%q must be a domain such as example.com", s)
		}
		return ""
	})
	list("providers", providers, func(s string) string {
		if !known[s] {
			return fmt.Sprintf("provider %q is not defined under providers", s)
		}
		return ""
	})
}
