// Package providers turns a login into an identity.Identity. Providers never
// see sessions: they get a code (or a password) and return who logged in.
package providers

import (
	"context"
	"errors"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/identity"
)

// Sentinel errors; wrap them with context.
var (
	// ErrDenied: the login was valid but the user is not allowed in by the
	// provider's own restriction (hosted domain, org, team, unverified email).
	ErrDenied = errors.New("providers: user not permitted")
	// ErrInvalidCredentials: wrong user, password or one-time code. Never says which.
	ErrInvalidCredentials = errors.New("providers: invalid username or password")
	// ErrInvalidToken: an ID token or code failed verification (signature, iss, aud, exp, nonce).
	ErrInvalidToken = errors.New("providers: invalid token")
	// ErrUnavailable: the identity provider could not be reached or is not ready.
	ErrUnavailable = errors.New("providers: provider unavailable")
	// ErrRefreshFatal: the refresh token was rejected (invalid_grant); the session must end.
	ErrRefreshFatal = errors.New("providers: refresh token rejected")
)

// Provider is a redirect-based login (OIDC, Google, GitHub).
type Provider interface {
	ID() string
	// DisplayName is the label on the sign-in button.
	DisplayName() string
	// AuthCodeURL builds the authorization URL with state, nonce and the S256
	// challenge of pkceVerifier.
	AuthCodeURL(state, nonce, pkceVerifier, redirectURI string) string
	// Exchange redeems code, verifies the result (for OIDC: the ID token's
	// signature, iss, aud, exp, and that its nonce equals nonce) and returns
	// the identity. The caller has already checked state.
	Exchange(ctx context.Context, code, pkceVerifier, nonce, redirectURI string) (*identity.Identity, *oauth2.Token, error)
}

// Issuer is implemented by providers with an issuer identifier, so a callback
// carrying RFC 9207's iss parameter can be checked against it (mix-up defence).
type Issuer interface {
	IssuerURL() string
}

// Refresher is an optional Provider capability, found by type assertion.
type Refresher interface {
	Refresh(ctx context.Context, t *oauth2.Token) (*identity.Identity, *oauth2.Token, error)
}

// PasswordAuthenticator is a local login: username, password and optional
// one-time code, no redirect.
type PasswordAuthenticator interface {
	ID() string
	DisplayName() string
	Authenticate(ctx context.Context, user, password, otp string) (*identity.Identity, error)
}

// Readier is implemented by providers that need start-up work (discovery);
// Ready returns nil once they can serve logins.
type Readier interface {
	Ready() error
}
