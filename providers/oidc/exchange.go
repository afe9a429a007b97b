package oidc

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/providers"
)

// Exchange redeems code with the PKCE verifier and verifies the ID token in
// the response before anything else uses it: signature (keys from the
// issuer's JWKS only; algorithms from discovery intersected with an
// asymmetric allowlist, never none or HS*), iss equal to the configured
// issuer, aud containing client_id and no untrusted audience, exp, iat not in the future, azp equal to
// client_id when present or when aud has several values, at_hash when
// present, and — which go-oidc leaves to the caller — that the nonce claim is
// present and equal to nonce (constant-time). Any failure wraps
// providers.ErrInvalidToken; a hosted-domain or unverified-email refusal
// (type google) wraps providers.ErrDenied; an unreachable or not yet
// discovered issuer wraps providers.ErrUnavailable.
//
// Email is set only when email_verified is true. If the ID token has no
// email, the userinfo endpoint is asked, and its sub must equal the ID
// token's.
func (p *Provider) Exchange(ctx context.Context, code, pkceVerifier, nonce, redirectURI string) (*identity.Identity, *oauth2.Token, error) {
	d, err := p.current()
	if err != nil {
		return nil, nil, err
	}
	if nonce == "" {
		return nil, nil, fmt.Errorf("%w: oidc %q: exchange without a nonce", providers.ErrInvalidToken, p.id)
	}
	ctx = gooidc.ClientContext(ctx, p.client)
	tok, err := p.oauthConfig(d, redirectURI).Exchange(ctx, code, oauth2.VerifierOption(pkceVerifier))
	if err != nil {
		return nil, nil, p.tokenEndpointError("exchange", err, providers.ErrInvalidToken)
	}
	p.stampExpiry(tok)
	id, err := p.identify(ctx, d, tok, nonce, true)
	if err != nil {
		return nil, nil, err
	}
	return id, tok, nil
}

// stampExpiry recomputes the token's expiry from expires_in with the
// provider's clock: x/oauth2 uses the wall clock, and every lifetime
// decision in gatehouse must come from one (injectable) clock.
func (p *Provider) stampExpiry(t *oauth2.Token) {
	if t.ExpiresIn > 0 {
		t.Expiry = p.now().Add(time.Duration(t.ExpiresIn) * time.Second)
	}
}

// Refresh uses the refresh token in t to get new tokens. A rejected refresh
// token (invalid_grant) wraps providers.ErrRefreshFatal: the session must
// end. A returned ID token is verified like Exchange's except for the nonce
// (refreshed ID tokens carry none); the returned identity's Subject must then
// be compared by the caller with the session's (OIDC Core §12.2). When the
// response has no ID token, the identity is nil and only the token is new.
func (p *Provider) Refresh(ctx context.Context, t *oauth2.Token) (*identity.Identity, *oauth2.Token, error) {
	d, err := p.current()
	if err != nil {
		return nil, nil, err
	}
	if t == nil || t.RefreshToken == "" {
		return nil, nil, fmt.Errorf("%w: oidc %q: no refresh token", providers.ErrRefreshFatal, p.id)
	}
	ctx = gooidc.ClientContext(ctx, p.client)
	nt, err := p.oauthConfig(d, "").TokenSource(ctx, &oauth2.Token{RefreshToken: t.RefreshToken}).Token()
	if err != nil {
		return nil, nil, p.tokenEndpointError("refresh", err, providers.ErrUnavailable)
	}
	p.stampExpiry(nt)
	if raw, _ := nt.Extra("id_token").(string); raw == "" {
		return nil, nt, nil
	}
	id, err := p.identify(ctx, d, nt, "", false)
	if err != nil {
		return nil, nil, err
	}
	return id, nt, nil
}

// tokenEndpointError classifies a token-endpoint failure: invalid_grant on
// refresh is fatal, other OAuth error responses (4xx) are rejectedAs, and
// transport errors or 5xx are ErrUnavailable.
func (p *Provider) tokenEndpointError(op string, err error, rejectedAs error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code := ""
		if re.Response != nil {
			code = fmt.Sprint(re.Response.StatusCode)
		}
		switch {
		case re.ErrorCode == "invalid_grant" && op == "refresh":
			return fmt.Errorf("%w: oidc %q: %s: invalid_grant", providers.ErrRefreshFatal, p.id, op)
		case re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500:
			return fmt.Errorf("%w: oidc %q: %s: token endpoint said %s %s", rejectedAs, p.id, op, code, re.ErrorCode)
		}
		return fmt.Errorf("%w: oidc %q: %s: token endpoint said %s %s", providers.ErrUnavailable, p.id, op, code, re.ErrorCode)
	}
	return fmt.Errorf("%w: oidc %q: %s: %w", providers.ErrUnavailable, p.id, op, err)
}

// identify verifies the ID token in tok and maps its claims. checkNonce is
// false only for refreshes.
func (p *Provider) identify(ctx context.Context, d *discovered, tok *oauth2.Token, nonce string, checkNonce bool) (*identity.Identity, error) {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: oidc %q: %s", providers.ErrInvalidToken, p.id, fmt.Sprintf(format, args...))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, invalid("token response has no id_token")
	}
	idt, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		if keysUnreachable(err) {
			// The token may be fine: the provider's keys could not be
			// fetched (SECURITY.md: JWKS down is 503, and a refresh keeps
			// the session). go-oidc flattens the cause into its message.
			return nil, fmt.Errorf("%w: oidc %q: %v", providers.ErrUnavailable, p.id, err)
		}
		return nil, invalid("%v", err)
	}
	if idt.IssuedAt.After(p.now().Add(maxIssuedAtSkew)) {
		return nil, invalid("iat %v is in the future", idt.IssuedAt)
	}
	if checkNonce && (idt.Nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1) {
		return nil, invalid("nonce missing or different from the one sent")
	}
	var c claims
	if err := idt.Claims(&c); err != nil {
		return nil, invalid("claims: %v", err)
	}
	for _, aud := range idt.Audience {
		if aud != p.clientID && !slices.Contains(p.trustedAud, aud) {
			return nil, invalid("untrusted audience %q", aud)
		}
	}
	azp := c.str("azp")
	if (len(idt.Audience) > 1 || azp != "") && azp != p.clientID {
		return nil, invalid("azp %q is not the client_id (aud %q)", azp, idt.Audience)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, invalid("at_hash: %v", err)
		}
	}
	if _, ok := c["email"]; !ok && d.userinfo && tok.AccessToken != "" {
		if err := p.mergeUserinfo(ctx, d, tok, idt.Subject, c); err != nil {
			return nil, err
		}
	}
	id := &identity.Identity{
		Provider:          p.id,
		Subject:           idt.Subject,
		PreferredUsername: c.str("preferred_username"),
		Name:              c.str("name"),
		Groups:            c.strings(p.groupsClaim),
		Expiry:            tok.Expiry,
	}
	if id.Expiry.IsZero() {
		id.Expiry = idt.Expiry
	}
	if email := c.str("email"); email != "" && c.boolish("email_verified") {
		id.Email, id.EmailVerified = email, true
	}
	if p.typ == TypeGoogle {
		if err := p.googleRules(c, id); err != nil {
			return nil, err
		}
	}
	return id, nil
}

// googleRules enforces hosted_domain on the verified hd claim (the hd
// authorization parameter is only a hint the user can remove) and refuses
// unverified email addresses.
func (p *Provider) googleRules(c claims, id *identity.Identity) error {
	if p.hostedDomain != "" && !strings.EqualFold(c.str("hd"), p.hostedDomain) {
		return fmt.Errorf("%w: oidc %q: hd %q is not %q", providers.ErrDenied, p.id, c.str("hd"), p.hostedDomain)
	}
	if !id.EmailVerified {
		return fmt.Errorf("%w: oidc %q: email missing or not verified", providers.ErrDenied, p.id)
	}
	return nil
}

// mergeUserinfo fills email (and groups, names, when the ID token lacks
// them) from the userinfo endpoint, after checking its sub.
func (p *Provider) mergeUserinfo(ctx context.Context, d *discovered, tok *oauth2.Token, sub string, c claims) error {
	ui, err := d.op.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("%w: oidc %q: userinfo: %w", providers.ErrUnavailable, p.id, err)
	}
	if ui.Subject != sub {
		return fmt.Errorf("%w: oidc %q: userinfo sub differs from the ID token's", providers.ErrInvalidToken, p.id)
	}
	var uc claims
	if err := ui.Claims(&uc); err != nil {
		return fmt.Errorf("%w: oidc %q: userinfo claims: %w", providers.ErrInvalidToken, p.id, err)
	}
	// Never "hd": Google's hosted domain must come from the signed ID token.
	for _, k := range []string{"email", "email_verified", p.groupsClaim, "preferred_username", "name"} {
		if _, have := c[k]; !have && uc[k] != nil {
			c[k] = uc[k]
		}
	}
	// email_verified belongs to the email it came with.
	c["email_verified"] = uc["email_verified"]
	return nil
}

// claims is a decoded JSON claim set with lenient accessors.
type claims map[string]any

func (c claims) str(k string) string {
	s, _ := c[k].(string)
	return s
}

// boolish accepts true and "true" (some IdPs send booleans as strings).
func (c claims) boolish(k string) bool { return identity.ClaimTrue(c[k]) }

// strings reads a string array or a single string (identity.ClaimStrings).
func (c claims) strings(k string) []string { return identity.ClaimStrings(c[k]) }

// keysUnreachable reports whether a go-oidc verification error means the
// JWKS could not be fetched (network error or a non-200 answer), not that
// the token is bad. go-oidc (v3.21) formats that cause with %v, so only its
// message, "fetching keys …", tells.
func keysUnreachable(err error) bool {
	return strings.Contains(err.Error(), "fetching keys")
}
