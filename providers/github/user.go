package github

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/providers"
)

// The parts of GitHub's REST answers that the identity is built from.
type (
	apiUser struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
		Name  string `json:"name"`
	}
	apiEmail struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	apiOrg struct {
		Login string `json:"login"`
	}
	apiTeam struct {
		Slug         string `json:"slug"`
		Organization apiOrg `json:"organization"`
	}
)

// identify builds the identity from the REST API with the access token and
// applies the org/team restrictions. Every call must succeed.
func (p *Provider) identify(ctx context.Context, token string) (*identity.Identity, error) {
	var u apiUser
	if err := p.get(ctx, "/user", token, &u); err != nil {
		return nil, err
	}
	if u.ID <= 0 || u.Login == "" {
		return nil, fmt.Errorf("%w: github %q: GET /user: no id or login", ErrAPI, p.id)
	}
	emails, err := getAll[apiEmail](ctx, p, "/user/emails", token)
	if err != nil {
		return nil, err
	}
	orgs, err := getAll[apiOrg](ctx, p, "/user/orgs", token)
	if err != nil {
		return nil, err
	}
	teams, err := getAll[apiTeam](ctx, p, "/user/teams", token)
	if err != nil {
		return nil, err
	}
	id := &identity.Identity{
		Provider:          p.id,
		Subject:           strconv.FormatInt(u.ID, 10),
		User:              u.Login,
		PreferredUsername: u.Login,
		Name:              u.Name,
	}
	for _, e := range emails {
		if e.Primary && e.Verified && e.Email != "" {
			id.Email, id.EmailVerified = e.Email, true
			break
		}
	}
	var orgGroups, teamGroups []string
	for _, o := range orgs {
		if o.Login != "" && !slices.Contains(orgGroups, o.Login) {
			orgGroups = append(orgGroups, o.Login)
		}
	}
	for _, t := range teams {
		g := t.Organization.Login + "/" + t.Slug
		if t.Organization.Login != "" && t.Slug != "" && !slices.Contains(teamGroups, g) {
			teamGroups = append(teamGroups, g)
		}
	}
	id.Groups = append(orgGroups, teamGroups...)
	if !p.permitted(orgGroups, teamGroups) {
		return nil, fmt.Errorf("%w: github %q: user %q (id %d) is in none of the allowed orgs %q or teams %q",
			providers.ErrDenied, p.id, u.Login, u.ID, p.orgs, p.teams)
	}
	p.log.DebugContext(ctx, "github identity", "provider", p.id, "user", u.Login, "id", u.ID,
		"orgs", len(orgGroups), "teams", len(teamGroups), "email", id.Email != "")
	return id, nil
}

// permitted applies the restrictions: none configured lets everyone in;
// otherwise a listed org or a listed team suffices (case-insensitive).
func (p *Provider) permitted(orgs, teams []string) bool {
	if len(p.orgs) == 0 && len(p.teams) == 0 {
		return true
	}
	for _, o := range orgs {
		if slices.Contains(p.orgs, strings.ToLower(o)) {
			return true
		}
	}
	for _, t := range teams {
		if slices.Contains(p.teams, strings.ToLower(t)) {
			return true
		}
	}
	return false
}
