package session

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
)

// CookieStore keeps the whole session in the browser: compact JSON, encrypted
// with AES-256 and authenticated with HMAC-SHA256 (gorilla/securecookie) under
// keys derived with HKDF-SHA256 from each configured secret. The first secret
// seals; all of them open, and a session opened by an older secret comes back
// with Reissue set. The MAC covers the cookie name, so a value moved from any
// other cookie (or chunk) does not open.
//
// Sessions larger than one cookie are split into NAME_0 … NAME_7; anything
// larger fails with ErrTooLarge rather than losing data. The absolute lifetime
// is enforced from ExpiresAt inside the sealed value (on Options.Now) and again
// by securecookie's timestamp; the optional idle timeout is tracked in the
// sealed LastSeen only when configured.
//
// A cookie store cannot revoke: Clear expires the browser's cookies, but a
// copy taken earlier stays valid until it expires. Use RedisStore when
// sign-out must revoke.
//
// CookieStore is safe for concurrent use.
type CookieStore struct {
	cookieBase
	cache *decodeCache
}

var _ Store = (*CookieStore)(nil)

// NewCookieStore returns a cookie store for cfg. It fails when there is no
// secret, a secret is shorter than config.MinSecretBytes, or the cookie settings are not
// ones a browser would accept (SameSite=None without Secure).
func NewCookieStore(cfg config.Session, opts Options) (*CookieStore, error) {
	base, err := newCookieBase(cfg, opts, purposeSession)
	if err != nil {
		return nil, err
	}
	return &CookieStore{cookieBase: base, cache: newDecodeCache(defaultCacheEntries)}, nil
}

// cookieBase is what both stores build the same way from the config: the
// cookie's name and attributes, the sealer for its value, the lifetimes.
type cookieBase struct {
	name  string
	attrs attrs
	seal  sealer
	life  lifetimes
	now   func() time.Time
	log   *slog.Logger
}

func newCookieBase(cfg config.Session, opts Options, purpose string) (cookieBase, error) {
	opts = opts.withDefaults()
	secs, err := secrets(cfg)
	if err != nil {
		return cookieBase{}, err
	}
	a, err := newAttrs(cfg.Cookie)
	if err != nil {
		return cookieBase{}, err
	}
	life, err := newLifetimes(cfg)
	if err != nil {
		return cookieBase{}, err
	}
	return cookieBase{name: CookieName(cfg.Cookie), attrs: a, seal: newSealer(secs, purpose, life.absolute),
		life: life, now: opts.Now, log: opts.Logger}, nil
}

// Name returns the session cookie's name (chunks are Name()+"_0" …).
func (c *CookieStore) Name() string { return c.name }

// Load returns the request's session. No cookie is ErrNoSession; a cookie
// that fails to verify, decrypt or parse (tampered, truncated, foreign, from
// an unknown secret, oversized) is ErrInvalid; a verified but ended session is
// ErrExpired. Load never writes to the response and never returns another
// error. When the request carries several cookies of our exact name, the
// first that opens wins — unless two open for different users (a planted
// cookie from a sibling subdomain): then ErrInvalid.
func (c *CookieStore) Load(r *http.Request) (*Session, error) {
	now := c.now()
	// The connection's last Cookie line again (see connMemo): the same
	// bytes, so the same single session as below, without finding it.
	memo, line := connMemoOf(r.Context()), ""
	if lines := r.Header["Cookie"]; memo != nil && len(lines) == 1 {
		line = lines[0]
		if s, rotated, ok := memo.get(c, line); ok {
			return c.checked(s, rotated, now)
		}
	}
	values, err := sessionValues(r, c.name)
	if err != nil {
		return nil, err
	}
	single := len(values) == 1
	if single {
		if s, rotated, ok := c.cache.get(values[0]); ok {
			if line != "" {
				memo.put(c, line, s, rotated)
			}
			return c.checked(s, rotated, now)
		}
	}
	err = ErrInvalid
	var found *Session
	for _, v := range values {
		b, rotated, oerr := c.seal.open(c.name, v)
		if oerr != nil {
			continue
		}
		s, uerr := unmarshal(b)
		if uerr != nil {
			continue
		}
		if single {
			c.cache.put(v, s, rotated)
			if line != "" {
				memo.put(c, line, s, rotated)
			}
		}
		if cerr := c.life.check(s, now); cerr != nil {
			err = cerr
			continue
		}
		s.Reissue = s.Reissue || rotated
		if found == nil {
			found = s
			continue
		}
		// Two valid sessions under our exact name for different users: a
		// sibling subdomain may have planted its own (session fixation).
		// Trust neither. The same user twice (e.g. after a cookie domain
		// change) is harmless: the first wins.
		if !sameUser(found, s) {
			c.log.Warn("two session cookies for different users; rejecting both", "cookie", c.name)
			return nil, ErrInvalid
		}
	}
	if found != nil {
		return found, nil
	}
	c.log.Debug("session cookie rejected", "cookie", c.name, "reason", err)
	return nil, err
}

// checked applies the lifetimes to a remembered session (a copy).
func (c *CookieStore) checked(s *Session, rotated bool, now time.Time) (*Session, error) {
	if err := c.life.check(s, now); err != nil {
		return nil, err
	}
	s.Reissue = s.Reissue || rotated
	return s, nil
}

func sameUser(a, b *Session) bool {
	if a.Identity == nil || b.Identity == nil {
		return a.Identity == b.Identity
	}
	return a.Identity.Provider == b.Identity.Provider && a.Identity.Subject == b.Identity.Subject
}

// Save seals s into the session cookie(s) with Max-Age set to its remaining
// lifetime, and expires chunk cookies left over from a larger session. A
// session without ID (a fresh login) gets a new random one, so no
// pre-login value survives into the signed-in session. Save fills CreatedAt,
// ExpiresAt and LastSeen on s and clears s.Reissue. It returns ErrTooLarge
// (writing nothing) when the session does not fit in 8 cookies.
func (c *CookieStore) Save(w http.ResponseWriter, r *http.Request, s *Session) error {
	if s == nil {
		return errors.New("session: save: nil session")
	}
	now := c.now()
	st := *s
	if st.ID == "" {
		st.ID = newID()
	}
	if err := c.life.stamp(&st, now); err != nil {
		return err
	}
	b, err := marshal(&st)
	if err != nil {
		return err
	}
	v, err := c.seal.seal(c.name, b)
	if err != nil {
		return err
	}
	if err := c.attrs.write(w, r, c.name, v, st.ExpiresAt.Sub(now)); err != nil {
		return err
	}
	st.ticketKey = ""
	*s = st
	return nil
}

// Clear expires the session cookie and every chunk the request carries, with
// the same Name, Path, Domain and Secure they were set with and Max-Age=0.
func (c *CookieStore) Clear(w http.ResponseWriter, r *http.Request) error {
	c.attrs.clear(w, r, c.name)
	return nil
}
