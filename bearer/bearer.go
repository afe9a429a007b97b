// Package bearer verifies the JWTs API clients send as
// "Authorization: Bearer <token>" and turns their claims into an
// identity.Identity, which then goes through the same rules as a session.
//
// Security contracts:
//   - Keys come only from the configured issuer's JWKS (jwks_url, or the
//     jwks_uri of its discovery document, whose issuer must equal the
//     configured one exactly). Key hints in token headers (jku, x5u, x5c,
//     jwk) are ignored.
//   - Only each issuer's allowlisted asymmetric algorithms are accepted
//     (default RS256, ES256); "none" and HS* never are, and the key's type
//     and curve must fit the algorithm, so an HS256 token keyed with an RSA
//     public key, or an ES256 header over an RSA key, fails. RSA keys under
//     2048 bits (RFC 7518 §3.3) are left out of the key set.
//   - iss selects the issuer by exact string match (a trailing slash is a
//     different issuer); aud must name a configured audience; exp is
//     required; exp, nbf and iat are checked with a small leeway.
//   - An unknown kid triggers a JWKS refetch at most once per
//     MinRefetchInterval per issuer, so random kids cannot hammer the IdP.
//
// Opaque (non-JWT) access tokens are out of scope by design: verifying them
// needs RFC 7662 introspection against the issuer, a round trip per token
// that gatehouse does not make; they fail as ErrInvalidToken.
package bearer

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/identity"
)

// Errors returned by Verify, wrapped with detail; test with errors.Is. The
// detail is for logs: it never belongs in a response body.
var (
	// ErrInvalidToken: the token is not acceptable (malformed, opaque,
	// unknown issuer or key, bad signature, wrong audience, expired...).
	// Answer 401 with the header WWW-Authenticate: InvalidTokenChallenge.
	ErrInvalidToken = errors.New("bearer: invalid token")
	// ErrUnavailable: the issuer's keys cannot be loaded right now (IdP
	// down or misconfigured). Answer 503; the client may retry.
	ErrUnavailable = errors.New("bearer: issuer keys unavailable")
)

// InvalidTokenChallenge is the WWW-Authenticate value for a 401 caused by
// ErrInvalidToken (RFC 6750 §3). A request without any token gets "Bearer".
const InvalidTokenChallenge = `Bearer error="invalid_token"`

// Defaults for Options.
const (
	DefaultLeeway             = 60 * time.Second
	DefaultMinRefetchInterval = 30 * time.Second
	DefaultKeyMaxAge          = time.Hour
	DefaultCacheSize          = 10000
	// MaxTokenBytes bounds the raw tokens Verify will parse.
	MaxTokenBytes = 16 << 10
)

// Options are a Verifier's dependencies and tuning knobs; zero values take
// the defaults.
type Options struct {
	// HTTPClient fetches discovery documents and JWKS (default: a client
	// with a 10s timeout).
	HTTPClient *http.Client
	Now        func() time.Time // default time.Now
	Logger     *slog.Logger     // default slog.Default()
	// Leeway is the clock skew allowed on exp, nbf and iat (default 60s).
	Leeway time.Duration
	// MinRefetchInterval is the least time between two key-set fetches of
	// one issuer, whatever triggered them (default 30s).
	MinRefetchInterval time.Duration
	// KeyMaxAge: a key set older than this is refetched on use, so keys
	// removed from the JWKS stop verifying even if no unknown kid shows up
	// (default 1h). A failed refresh keeps the old set.
	KeyMaxAge time.Duration
	// CacheSize bounds the cache of successful verifications (default
	// 10000; negative disables it). Entries expire with the token's exp and
	// when the issuer's key set is refetched.
	CacheSize int
	// ProviderIDs maps an issuer URL to the Identity.Provider its tokens get
	// (say, the id of the login provider for the same IdP, so that one user
	// is one user either way). Default "bearer:" + issuer.
	ProviderIDs map[string]string
}

// Verifier verifies bearer JWTs against the configured issuers. It is safe
// for concurrent use.
type Verifier struct {
	issuers map[string]*issuer // by exact iss
	algs    []jose.SignatureAlgorithm
	now     func() time.Time
	leeway  time.Duration
	cache   *cache // nil when disabled
}

// issuer is one configured issuer and its keys.
type issuer struct {
	cfg        config.BearerIssuer
	providerID string
	keys       *keySource
}

// asymmetric are the only algorithms an issuer may allow.
var asymmetric = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}

// New builds a Verifier and tries to load every issuer's keys once. An
// issuer that is down does not fail New: its keys are fetched lazily (at
// most once per MinRefetchInterval), and until then Verify returns
// ErrUnavailable for its tokens. Configuration errors do fail New.
func New(ctx context.Context, issuers []config.BearerIssuer, opts Options) (*Verifier, error) {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: fetchTimeout}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.Leeway = orDefault(opts.Leeway, DefaultLeeway)
	opts.MinRefetchInterval = orDefault(opts.MinRefetchInterval, DefaultMinRefetchInterval)
	opts.KeyMaxAge = orDefault(opts.KeyMaxAge, DefaultKeyMaxAge)
	v := &Verifier{issuers: map[string]*issuer{}, now: opts.Now, leeway: opts.Leeway}
	switch {
	case opts.CacheSize == 0:
		v.cache = newCache(DefaultCacheSize)
	case opts.CacheSize > 0:
		v.cache = newCache(opts.CacheSize)
	}
	for i, c := range issuers {
		if err := checkIssuer(c); err != nil {
			return nil, fmt.Errorf("bearer: issuers[%d]: %w", i, err)
		}
		if _, dup := v.issuers[c.Issuer]; dup {
			return nil, fmt.Errorf("bearer: issuers[%d]: duplicate issuer %q", i, c.Issuer)
		}
		c.Audiences = slices.Clone(c.Audiences)
		if len(c.Algorithms) == 0 {
			c.Algorithms = []string{"RS256", "ES256"}
		}
		if c.GroupsClaim == "" {
			c.GroupsClaim = "groups"
		}
		for _, a := range c.Algorithms {
			if !slices.Contains(v.algs, jose.SignatureAlgorithm(a)) {
				v.algs = append(v.algs, jose.SignatureAlgorithm(a))
			}
		}
		is := &issuer{cfg: c, providerID: opts.ProviderIDs[c.Issuer]}
		if is.providerID == "" {
			is.providerID = "bearer:" + c.Issuer
		}
		is.keys = &keySource{
			issuer: c.Issuer, jwksURL: c.JWKSURL, client: opts.HTTPClient,
			now: opts.Now, log: opts.Logger, minInterval: opts.MinRefetchInterval,
			maxAge: opts.KeyMaxAge, sem: make(chan struct{}, 1),
		}
		v.issuers[c.Issuer] = is
	}
	for _, is := range v.issuers {
		_ = is.keys.refresh(ctx, nil) // failures are logged and retried lazily
	}
	return v, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func checkIssuer(c config.BearerIssuer) error {
	if err := checkURL(c.Issuer); err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	if c.JWKSURL != "" {
		if err := checkURL(c.JWKSURL); err != nil {
			return fmt.Errorf("jwks_url: %w", err)
		}
	}
	if len(c.Audiences) == 0 || slices.Contains(c.Audiences, "") {
		return errors.New("audiences: at least one, none empty")
	}
	for _, a := range c.Algorithms {
		if !slices.Contains(asymmetric, a) {
			return fmt.Errorf("algorithms: %q is not an allowed asymmetric algorithm", a)
		}
	}
	return nil
}

// Verify checks raw (the token, without the "Bearer " prefix) and returns
// the identity it carries. Errors wrap ErrInvalidToken or ErrUnavailable.
// The returned Identity is the caller's to modify. A token verified before
// costs a SHA-256 and a map lookup (the cache) until its exp, or until its
// issuer's key set is refetched; ctx only bounds waiting for a key fetch.
func (v *Verifier) Verify(ctx context.Context, raw string) (*identity.Identity, error) {
	if raw == "" || len(raw) > MaxTokenBytes || strings.Count(raw, ".") != 2 {
		return nil, fmt.Errorf("%w: not a signed JWT (opaque tokens are not supported)", ErrInvalidToken)
	}
	now := v.now()
	var sum [32]byte
	if v.cache != nil {
		sum = sha256.Sum256([]byte(raw))
		if e, ok := v.cache.get(sum, now); ok {
			return e.id.Clone(), nil
		}
	}
	jws, err := jose.ParseSignedCompact(raw, v.algs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	hdr := jws.Signatures[0].Protected
	// Decode once; until the signature is checked only iss is looked at, to
	// pick the issuer whose keys must verify it. Verify returns these bytes.
	var c claimSet
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c); err != nil {
		return nil, fmt.Errorf("%w: payload is not a JSON claim set", ErrInvalidToken)
	}
	iss := c.str("iss")
	is := v.issuers[iss]
	if is == nil {
		return nil, fmt.Errorf("%w: unknown issuer %q", ErrInvalidToken, iss)
	}
	if !slices.Contains(is.cfg.Algorithms, hdr.Algorithm) {
		return nil, fmt.Errorf("%w: alg %s not allowed for %q", ErrInvalidToken, hdr.Algorithm, is.cfg.Issuer)
	}
	keys, snap, err := is.keys.keys(ctx, hdr.KeyID, hdr.Algorithm)
	if err != nil {
		return nil, err
	}
	good := false
	for _, k := range keys {
		if _, err := jws.Verify(k.Key); err == nil {
			good = true
			break
		}
	}
	if !good {
		return nil, fmt.Errorf("%w: signature does not verify with the key(s) for kid %q", ErrInvalidToken, hdr.KeyID)
	}
	id, err := is.check(c, now, v.leeway)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(sum, verified{id: id.Clone(), exp: id.Expiry, is: is, keys: snap}, now)
	}
	return id, nil
}

// Ready reports whether every issuer has a usable key set, trying to load
// the missing ones (subject to the refetch rate limit), so that a readiness
// probe also heals an issuer that was down at start. The error wraps
// ErrUnavailable.
func (v *Verifier) Ready(ctx context.Context) error {
	var errs []error
	for _, is := range v.issuers {
		if snap := is.keys.snap.Load(); snap != nil {
			continue
		}
		if err := is.keys.refresh(ctx, nil); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// FromRequest returns the token of an "Authorization: Bearer <token>"
// header (scheme case-insensitive, RFC 6750 §2.1). ok is false when the
// request has no Authorization header or another scheme; a Bearer header
// with an empty token gives ok true and token "", which Verify rejects.
func FromRequest(r *http.Request) (token string, ok bool) {
	h := r.Header.Get("Authorization")
	if !IsBearer(h) {
		return "", false
	}
	_, rest, _ := strings.Cut(h, " ")
	return strings.TrimSpace(rest), true
}

// IsBearer reports whether an Authorization value uses the Bearer scheme
// (case-insensitive, RFC 9110 §11.1), token or not.
func IsBearer(authorization string) bool {
	scheme, _, _ := strings.Cut(authorization, " ")
	return strings.EqualFold(scheme, "Bearer")
}
