package session

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
)

// LoginStateTTL is how long a login may take from /start to /callback.
const LoginStateTTL = 10 * time.Minute

// maxLoginStates is how many login-state cookies a browser keeps at once
// (parallel logins in several tabs); Put expires the oldest beyond it.
const maxLoginStates = 4

// LoginState carries a login from /start to /callback. The caller generates
// State, Nonce and Verifier; the callback must compare the ID token's nonce
// with Nonce itself.
type LoginState struct {
	Provider string    `json:"p"`
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Redirect string    `json:"r,omitempty"`
	Issued   time.Time `json:"i"`
}

// LoginStates keeps LoginState in short-lived cookies, encrypted and
// authenticated with keys of their own (a session cookie never opens as a
// login state, nor the reverse). Each cookie is named after a short hash of
// its state value (e.g. "__Host-_gatehouse_login_1a2b3c4d"), so parallel
// logins in several tabs do not overwrite each other; at most four are kept.
//
// The cookies are host-only (no Domain, "__Host-" when Secure), Path=/,
// HttpOnly and SameSite=Lax whatever the session cookie's SameSite, because
// they must come back on the top-level redirect from the identity provider.
//
// LoginStates is safe for concurrent use.
type LoginStates struct {
	prefix string
	attrs  attrs
	seal   sealer
	now    func() time.Time
	log    *slog.Logger
}

// NewLoginStates returns the login-state cookie keeper for cfg (its secrets
// and cookie name and Secure setting).
func NewLoginStates(cfg config.Session, opts Options) (*LoginStates, error) {
	opts = opts.withDefaults()
	secs, err := secrets(cfg)
	if err != nil {
		return nil, err
	}
	base, _ := splitPrefix(cfg.Cookie.Name)
	if base == "" {
		base = defaultCookieName
	}
	c := config.Cookie{Name: base + "_login_", Secure: cfg.Cookie.Secure, SameSite: "lax"}
	a, err := newAttrs(c)
	if err != nil {
		return nil, err
	}
	return &LoginStates{
		prefix: CookieName(c),
		attrs:  a,
		seal:   newSealer(secs, purposeLogin, LoginStateTTL),
		now:    opts.Now,
		log:    opts.Logger,
	}, nil
}

// name returns the cookie name for a state value: prefix + 8 hex digits of
// SHA-256(state).
func (l *LoginStates) name(state string) string {
	h := sha256.Sum256([]byte(state))
	return l.prefix + hex.EncodeToString(h[:4])
}

func (l *LoginStates) isName(n string) bool {
	if len(n) != len(l.prefix)+8 || !strings.HasPrefix(n, l.prefix) {
		return false
	}
	for _, ch := range n[len(l.prefix):] {
		if (ch < '0' || ch > '9') && (ch < 'a' || ch > 'f') {
			return false
		}
	}
	return true
}

// Put seals st into its cookie, living LoginStateTTL. Issued defaults to now.
// Login-state cookies the request already carries beyond the newest three
// (and any that no longer open) are expired, so many parallel logins never
// grow the Cookie header without bound. A state so large that its cookie
// exceeds 4000 bytes (a very long Redirect) is ErrTooLarge.
func (l *LoginStates) Put(w http.ResponseWriter, r *http.Request, st *LoginState) error {
	if st == nil || st.State == "" {
		return errors.New("session: login state: empty state")
	}
	now := l.now()
	if st.Issued.IsZero() {
		st.Issued = now
	}
	c := *st
	c.Issued = c.Issued.UTC().Truncate(time.Second)
	b, err := json.Marshal(&c)
	if err != nil {
		return fmt.Errorf("session: login state: %w", err)
	}
	name := l.name(st.State)
	v, err := l.seal.seal(name, b)
	if err != nil {
		return err
	}
	if len(name)+len(v) > maxCookieBytes {
		return fmt.Errorf("%w: login state cookie is %d bytes", ErrTooLarge, len(name)+len(v))
	}
	l.prune(w, r, name, now)
	l.attrs.set(w, name, v, LoginStateTTL)
	return nil
}

// prune expires the request's other login-state cookies that are invalid or
// expired, and the oldest of the valid ones beyond maxLoginStates-1.
func (l *LoginStates) prune(w http.ResponseWriter, r *http.Request, keep string, now time.Time) {
	type held struct {
		name   string
		issued time.Time
	}
	var valid []held
	for n, vs := range readJar(r) {
		if n == keep || !l.isName(n) {
			continue
		}
		if st, err := l.open(n, vs, now); err == nil {
			valid = append(valid, held{n, st.Issued})
		} else {
			l.attrs.expire(w, n)
		}
	}
	slices.SortFunc(valid, func(a, b held) int {
		if c := b.issued.Compare(a.issued); c != 0 {
			return c // newest first
		}
		return strings.Compare(a.name, b.name)
	})
	for i := maxLoginStates - 1; i < len(valid); i++ {
		l.attrs.expire(w, valid[i].name)
	}
}

// Take returns the login state for state and expires its cookie (single
// use: it is cleared whether or not it verifies). The cookie is stateless, so
// a copy replayed elsewhere is bounded only by LoginStateTTL and by the
// provider's one-time authorization code and PKCE verifier. A missing cookie, one that
// fails to verify or decrypt, one older than LoginStateTTL, or one whose
// sealed State differs from state is ErrNoSession.
func (l *LoginStates) Take(w http.ResponseWriter, r *http.Request, state string) (*LoginState, error) {
	if state == "" {
		return nil, ErrNoSession
	}
	name := l.name(state)
	vs := readJar(r)[name]
	if len(vs) == 0 {
		return nil, ErrNoSession
	}
	l.attrs.expire(w, name)
	st, err := l.open(name, vs, l.now())
	if err != nil {
		l.log.Debug("login state rejected", "cookie", name)
		return nil, ErrNoSession
	}
	if subtle.ConstantTimeCompare([]byte(st.State), []byte(state)) != 1 {
		return nil, ErrNoSession
	}
	return st, nil
}

// open returns the first of values that verifies under name and is within
// its lifetime at now.
func (l *LoginStates) open(name string, values []string, now time.Time) (*LoginState, error) {
	for _, v := range values {
		b, _, err := l.seal.open(name, v)
		if err != nil {
			continue
		}
		var st LoginState
		if json.Unmarshal(b, &st) != nil || st.State == "" {
			continue
		}
		if age := now.Sub(st.Issued); age >= LoginStateTTL || age < -time.Minute {
			continue
		}
		return &st, nil
	}
	return nil, ErrNoSession
}
