package assertion

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/identity"
)

// Header is the request header (proxy mode) and forward-auth response
// header that carries the assertion. Proxies must delete any client-sent
// copy before setting it.
const Header = "X-Gatehouse-Assertion"

// Defaults for New.
const (
	DefaultTTL       = 5 * time.Minute
	DefaultCacheSize = 10000
	// RetiredKeyGrace is how long, beyond the token lifetime, the previous
	// key stays in the JWKS after a rotation: the clock skew upstreams
	// usually allow (go-jose's default leeway).
	RetiredKeyGrace = time.Minute
)

// ErrInvalidIdentity: Sign was given no identity, no subject, no audience,
// or an identity that has already expired.
var ErrInvalidIdentity = errors.New("assertion: cannot assert this identity")

// Options are a Signer's dependencies; zero values take the defaults.
type Options struct {
	Now    func() time.Time // default time.Now
	Logger *slog.Logger     // default slog.Default()
	// CacheSize bounds For's token cache (default 10000 entries; negative
	// disables caching, For then signs every time).
	CacheSize int
}

// Signer signs identity assertions and publishes their verification keys.
// It is safe for concurrent use; Rotate and Reload may run while requests
// are being signed.
type Signer struct {
	issuer  string
	ttl     time.Duration
	keyFile string
	now     func() time.Time
	log     *slog.Logger
	cache   *cache // nil when disabled

	mu    sync.Mutex // serialises Rotate and Reload
	state atomic.Pointer[keyState]
}

// New returns a Signer whose tokens name issuer (gatehouse's public URL) as
// iss. The key is read from cfg.KeyFile (see ParseKey) or, when that is
// empty, generated in memory: fine for one instance, but every replica
// behind one load balancer must share a key_file, or upstreams will see
// tokens under keys that the jwks.json they fetched does not list. New does
// not look at cfg.Disabled: callers that honour it simply build no Signer.
func New(cfg config.Assertion, issuer string, opts Options) (*Signer, error) {
	if issuer == "" {
		return nil, errors.New("assertion: issuer (the public URL) is required")
	}
	s := &Signer{issuer: issuer, ttl: cfg.TTL, keyFile: cfg.KeyFile, now: opts.Now, log: opts.Logger}
	if s.ttl <= 0 {
		s.ttl = DefaultTTL
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	switch {
	case opts.CacheSize == 0:
		s.cache = newCache(DefaultCacheSize)
	case opts.CacheSize > 0:
		s.cache = newCache(opts.CacheSize)
	}
	var key crypto.Signer
	var err error
	if cfg.KeyFile != "" {
		key, err = readKey(cfg.KeyFile)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, fmt.Errorf("assertion: signing key: %w", err)
	}
	st, err := newKeyState(key, nil, 1)
	if err != nil {
		return nil, err
	}
	s.state.Store(st)
	return s, nil
}

func readKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// claims is the assertion's payload. Email is present only when verified;
// groups and roles are always arrays (possibly empty).
type claims struct {
	Issuer   string   `json:"iss"`
	Audience string   `json:"aud"`
	Subject  string   `json:"sub"`
	Provider string   `json:"idp,omitempty"`
	User     string   `json:"user,omitempty"`
	Email    string   `json:"email,omitempty"`
	Groups   []string `json:"groups"`
	Roles    []string `json:"roles"`
	IssuedAt int64    `json:"iat"`
	Expiry   int64    `json:"exp"`
	ID       string   `json:"jti"`
}

// Sign returns a fresh assertion for id, addressed to audience (the
// upstream's host): iss, aud, sub, idp (the provider id), user (the
// X-Forwarded-User value), email (verified only), groups, roles, iat, exp
// (iat + ttl, capped at id.Expiry to the second) and a random jti. It costs one signature;
// per request, use For.
func (s *Signer) Sign(id *identity.Identity, audience string) (string, error) {
	tok, _, err := s.sign(s.state.Load(), id, audience, s.now())
	return tok, err
}

func (s *Signer) sign(st *keyState, id *identity.Identity, audience string, now time.Time) (string, time.Time, error) {
	switch {
	case id == nil || id.Subject == "":
		return "", time.Time{}, fmt.Errorf("%w: no subject", ErrInvalidIdentity)
	case audience == "":
		return "", time.Time{}, fmt.Errorf("%w: no audience", ErrInvalidIdentity)
	case !id.Expiry.IsZero() && !id.Expiry.After(now):
		return "", time.Time{}, fmt.Errorf("%w: identity expired at %s", ErrInvalidIdentity, id.Expiry.UTC().Format(time.RFC3339))
	}
	iat := now.Truncate(time.Second)
	exp := iat.Add(s.ttl)
	if !id.Expiry.IsZero() && id.Expiry.Before(exp) {
		exp = id.Expiry.Truncate(time.Second)
		if !exp.After(iat) {
			exp = iat.Add(time.Second) // under a second left: keep exp after iat
		}
	}
	var jti [16]byte
	_, _ = rand.Read(jti[:]) // crypto/rand.Read never fails
	c := claims{
		Issuer: s.issuer, Audience: audience, Subject: id.Subject, Provider: id.Provider,
		User: id.UserName(), Email: assertedEmail(id), Groups: id.Groups, Roles: id.Roles,
		IssuedAt: iat.Unix(), Expiry: exp.Unix(), ID: base64.RawURLEncoding.EncodeToString(jti[:]),
	}
	if c.Groups == nil {
		c.Groups = []string{}
	}
	if c.Roles == nil {
		c.Roles = []string{}
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("assertion: encode claims: %w", err)
	}
	jws, err := st.signer.Sign(payload)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("assertion: sign: %w", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("assertion: serialize: %w", err)
	}
	return tok, exp, nil
}

// For returns an assertion for id and audience, reusing the one it signed
// before under (cacheKey, audience) while more than half of that token's
// lifetime remains, the signing key is unchanged, and id asserts exactly
// the same claims (subject, provider, user, email, groups, roles, expiry).
// Because of that last check a cache key only has to be stable per session
// (a session ID, say); a collision can never return another user's token.
// An empty cacheKey, or a disabled cache, signs afresh (Sign).
//
// A reused token keeps its jti and iat: upstreams must not treat jti as a
// one-time nonce.
func (s *Signer) For(id *identity.Identity, audience, cacheKey string) (string, error) {
	if s.cache == nil || cacheKey == "" || id == nil {
		return s.Sign(id, audience)
	}
	st, now, k := s.state.Load(), s.now(), entryKey{key: cacheKey, audience: audience}
	if tok, ok := s.cache.get(k, st.gen, id, now); ok {
		return tok, nil
	}
	tok, exp, err := s.sign(st, id, audience, now)
	if err != nil {
		return "", err
	}
	s.cache.put(k, cached{token: tok, gen: st.gen, refreshAt: now.Add(exp.Sub(now) / 2), who: subjectOf(id)}, now)
	return tok, nil
}

// JWKS returns the public key set, pre-rendered as JSON: the current key
// and, for RetiredKeyGrace plus the token lifetime after a rotation, the
// previous one, each with kid (the RFC 7638 SHA-256 thumbprint), alg and
// use "sig". The previous key is published only as long as a token it
// signed can still be valid: a retired key (say, one rotated out because it
// leaked) must not keep verifying assertions. The slice is shared: do not
// modify it.
//
// Serve it as GET {prefix}/jwks.json with Content-Type application/json
// and "Cache-Control: public, max-age=300". A rotation takes effect at
// once, so upstreams must refetch the set when they meet an unknown kid
// (go-oidc's RemoteKeySet and most JWT libraries do); the previous key
// stays published, so tokens signed just before a rotation keep verifying
// until they expire.
func (s *Signer) JWKS() []byte {
	st := s.state.Load()
	if st.prev != nil && s.now().Before(st.prevUntil) {
		return st.jwks
	}
	return st.jwksCur
}

// KeyID is the kid of the current signing key.
func (s *Signer) KeyID() string { return s.state.Load().kid }

// Rotate makes key the signing key (nil: a fresh P-256 key) and keeps the
// outgoing key's public half in the JWKS as the previous key until the
// tokens it signed have expired (ttl plus RetiredKeyGrace); the one before
// that is dropped. Rotating to the current key changes nothing.
// Cached tokens are re-signed with the new key on their next use.
func (s *Signer) Rotate(key crypto.Signer) error {
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return fmt.Errorf("assertion: generate key: %w", err)
		}
		key = k
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rotateLocked(key)
}

func (s *Signer) rotateLocked(key crypto.Signer) error {
	old := s.state.Load()
	prev := old.pub
	st, err := newKeyState(key, &prev, old.gen+1)
	if err != nil {
		return err
	}
	if st.kid == old.kid {
		return nil
	}
	// A request that loaded the old state just before the swap may still
	// sign with it, so its tokens expire up to ttl from now.
	st.prevUntil = s.now().Add(s.ttl + RetiredKeyGrace)
	s.state.Store(st)
	s.log.Info("assertion: signing key rotated", "kid", st.kid, "previous_kid", old.kid)
	return nil
}

// Reload re-reads key_file and, when it holds a different key, rotates to
// it (see Rotate). Without a key_file it does nothing. On error the current
// key stays in use.
func (s *Signer) Reload() error {
	if s.keyFile == "" {
		return nil
	}
	key, err := readKey(s.keyFile)
	if err != nil {
		return fmt.Errorf("assertion: reload: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rotateLocked(key)
}
