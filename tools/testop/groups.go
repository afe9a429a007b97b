package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// groupsScope is the scope that asks for the groups claim, as at Dex; the
// claim has the same name.
const (
	groupsScope = "groups"
	groupsClaim = "groups"
)

// loadGroups reads the optional "Groups" list of every user in the users
// file (a map of user ID to user). storage.User has no such field, so the
// example storage ignores it and the wrapper keeps the groups alongside, by
// user ID. Users without groups are absent from the result.
func loadGroups(path string) (map[string][]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var users map[string]struct{ Groups []string }
	if err := json.Unmarshal(data, &users); err != nil {
		return nil, err
	}
	groups := make(map[string][]string, len(users))
	for id, u := range users {
		if len(u.Groups) == 0 {
			continue
		}
		if slices.Contains(u.Groups, "") {
			return nil, fmt.Errorf("user %q: empty group name", id)
		}
		groups[id] = slices.Clone(u.Groups)
	}
	return groups, nil
}

// groupClaims adds the "groups" claim (a JSON array of strings) to the ID
// token and the userinfo response when the authorization request asked for
// the "groups" scope and the user has groups; otherwise the claim is absent.
// The scope is not a userinfo scope in the library's sense (profile, email,
// phone, address), so the claim goes into the code flow's ID token whether
// or not -id-token-userinfo-claims is set.
//
// The example storage keeps the scopes of an access token to itself, so the
// scopes of each access token the OP issues are remembered here, by token ID,
// until the token expires, for the userinfo endpoint to look up.
type groupClaims struct {
	groups map[string][]string // by user ID; read-only after start

	mu     sync.Mutex
	tokens map[string]grantedToken // by access token ID
}

type grantedToken struct {
	subject string
	groups  bool // the "groups" scope was granted
	expires time.Time
}

func newGroupClaims(groups map[string][]string) *groupClaims {
	return &groupClaims{groups: groups, tokens: map[string]grantedToken{}}
}

// add puts the subject's groups into info if scopes include "groups".
func (g *groupClaims) add(info *oidc.UserInfo, subject string, scopes []string) {
	if !slices.Contains(scopes, groupsScope) {
		return
	}
	if groups := g.groups[subject]; len(groups) > 0 {
		info.AppendClaims(groupsClaim, slices.Clone(groups))
	}
}

// remember records an access token the OP has just issued.
func (g *groupClaims) remember(tokenID string, req op.TokenRequest, expires time.Time) {
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	for id, t := range g.tokens {
		if now.After(t.expires) {
			delete(g.tokens, id)
		}
	}
	g.tokens[tokenID] = grantedToken{
		subject: req.GetSubject(),
		groups:  slices.Contains(req.GetScopes(), groupsScope),
		expires: expires,
	}
}

func (g *groupClaims) token(tokenID string) (grantedToken, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.tokens[tokenID]
	return t, ok
}

// CreateAccessToken issues an access token (no refresh token) and remembers
// its scopes.
func (s *clientOverrides) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	id, exp, err := s.Storage.CreateAccessToken(ctx, req)
	if err == nil {
		s.groups.remember(id, req, exp)
	}
	return id, exp, err
}

// CreateAccessAndRefreshTokens issues an access token and a refresh token
// (code exchange with offline_access, or a refresh) and remembers the access
// token's scopes.
func (s *clientOverrides) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	id, refresh, exp, err := s.Storage.CreateAccessAndRefreshTokens(ctx, req, currentRefreshToken)
	if err == nil {
		s.groups.remember(id, req, exp)
	}
	return id, refresh, exp, err
}

// SetUserinfoFromRequest fills the ID token's user claims: the example's,
// plus groups.
func (s *clientOverrides) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	s.groups.add(info, req.GetSubject(), scopes)
	return nil
}

// SetUserinfoFromToken answers the userinfo endpoint: the example's claims
// (it checks the token is known and unexpired), plus groups.
func (s *clientOverrides) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	// Every access token comes from CreateAccessToken or
	// CreateAccessAndRefreshTokens above; one not found gets no groups.
	if t, ok := s.groups.token(tokenID); ok && t.groups {
		s.groups.add(info, t.subject, []string{groupsScope})
	}
	return nil
}
