// Package session keeps an Identity (and the provider's tokens) between
// requests: in an encrypted, signed cookie, or server-side in Redis with only a
// ticket in the cookie. It also owns the short-lived login-state cookie that
// carries state, nonce and PKCE verifier from /start to /callback.
package session

import (
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/identity"
)

// Sentinel outcomes of Store.Load. ErrNoSession and ErrInvalid are normal:
// the caller treats the request as anonymous. ErrUnavailable means the backing
// store cannot be reached: the caller must fail closed (503) and keep the cookie.
var (
	ErrNoSession   = errors.New("session: no session")
	ErrInvalid     = errors.New("session: invalid session")
	ErrExpired     = errors.New("session: expired")
	ErrUnavailable = errors.New("session: store unavailable")
	ErrTooLarge    = errors.New("session: too large to store")
)

// Session is what gatehouse remembers about a signed-in browser.
type Session struct {
	Identity  *identity.Identity `json:"i"`
	Tokens    Tokens             `json:"t,omitzero"`
	CreatedAt time.Time          `json:"c"`
	ExpiresAt time.Time          `json:"x"` // absolute end, enforced from inside the session
	// ID is a random identifier; for Redis it is the ticket id. Never a secret on its own.
	ID string `json:"id,omitempty"`
	// LastSeen is when the session was last written. It is tracked (and
	// checked) only when an idle timeout is configured; otherwise it stays zero
	// and costs no cookie bytes.
	LastSeen time.Time `json:"l,omitzero"`

	// Reissue is set by Load when the session is valid but should be written
	// again: it was sealed with a rotated-out secret, or its idle clock needs
	// moving. The caller re-saves it (Save keeps ID) before answering.
	Reissue bool `json:"-"`

	// ticketKey is the Redis store's per-session encryption key, remembered by
	// Load so Save can rewrite the session in place. Never serialised.
	ticketKey string // a string, not []byte, so Session stays comparable
}

// Tokens are the provider's tokens, kept so they can be refreshed or passed on.
type Tokens struct {
	AccessToken  string    `json:"a,omitempty"`
	RefreshToken string    `json:"r,omitempty"`
	IDToken      string    `json:"d,omitempty"`
	Expiry       time.Time `json:"e,omitzero"`
}

// Store keeps sessions. Implementations must be safe for concurrent use.
type Store interface {
	// Load returns the request's session, or ErrNoSession / ErrInvalid /
	// ErrExpired (anonymous) or ErrUnavailable (fail closed).
	Load(r *http.Request) (*Session, error)
	// Save writes s (setting cookies on w). It always issues a new ticket
	// when s.ID is empty, so a login never reuses a pre-login identifier.
	Save(w http.ResponseWriter, r *http.Request, s *Session) error
	// Clear ends the request's session (server-side too) and expires its cookies.
	Clear(w http.ResponseWriter, r *http.Request) error
}
