package bearer

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	// fetchTimeout bounds one discovery or JWKS request; it is detached from
	// the caller's context so that a client hanging up cannot poison the
	// rate-limited refetch for everyone else.
	fetchTimeout = 10 * time.Second
	// maxDocBytes bounds discovery and JWKS responses.
	maxDocBytes = 1 << 20
	// minRSABits is the smallest RSA modulus a JWKS key may have.
	minRSABits = 2048
)

// keySnapshot is one successfully fetched key set. It is immutable; a
// refetch replaces the pointer, which also invalidates cached verifications
// made with the old set.
type keySnapshot struct {
	keys      []jose.JSONWebKey // public signing keys only
	fetchedAt time.Time
}

// find returns the keys that may verify a token with this kid and alg: the
// kid must match (any key when the token has none), and the key's type,
// curve and declared alg/use must fit alg.
func (s *keySnapshot) find(kid string, alg string) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, k := range s.keys {
		if (kid == "" || k.KeyID == kid) && keyFits(k, alg) {
			out = append(out, k)
		}
	}
	return out
}

// keyFits reports whether k is a public key of the type alg needs. It is the
// guard against algorithm confusion: an HMAC algorithm never fits any key.
func keyFits(k jose.JSONWebKey, alg string) bool {
	if (k.Algorithm != "" && k.Algorithm != alg) || (k.Use != "" && k.Use != "sig") {
		return false
	}
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		_, ok := k.Key.(*rsa.PublicKey)
		return ok
	case "ES256":
		return ecCurve(k.Key) == elliptic.P256()
	case "ES384":
		return ecCurve(k.Key) == elliptic.P384()
	case "ES512":
		return ecCurve(k.Key) == elliptic.P521()
	case "EdDSA":
		_, ok := k.Key.(ed25519.PublicKey)
		return ok
	}
	return false
}

func ecCurve(key any) elliptic.Curve {
	if pk, ok := key.(*ecdsa.PublicKey); ok {
		return pk.Curve
	}
	return nil
}

// keySource fetches and caches one issuer's JWKS. Reads are lock-free; at
// most one fetch runs at a time (sem), and fetches are at least
// minInterval apart whatever the outcome.
type keySource struct {
	issuer      string
	jwksURL     string // configured; "" means discover
	client      *http.Client
	now         func() time.Time
	log         *slog.Logger
	minInterval time.Duration
	maxAge      time.Duration

	snap atomic.Pointer[keySnapshot]
	sem  chan struct{} // capacity 1; holding it guards the fields below

	discovered  string // jwks_uri from discovery, once it succeeded
	lastAttempt time.Time
	lastErr     error
}

// keys returns the candidate keys for (kid, alg), fetching the key set when
// it was never loaded, when kid is unknown, or when it is older than
// maxAge, each subject to the rate limit. The snapshot returned is the one
// the keys came from.
func (s *keySource) keys(ctx context.Context, kid, alg string) ([]jose.JSONWebKey, *keySnapshot, error) {
	snap := s.snap.Load()
	if snap != nil && s.now().Sub(snap.fetchedAt) > s.maxAge {
		// Stale: one request refreshes, the others carry on with the old set,
		// and so does everyone if the refresh fails.
		select {
		case s.sem <- struct{}{}:
			if s.snap.Load() == snap {
				_ = s.fetchLimitedLocked(ctx)
			}
			<-s.sem
			snap = s.snap.Load()
		default:
		}
	}
	if snap != nil {
		if ks := snap.find(kid, alg); len(ks) > 0 {
			return ks, snap, nil
		}
	}
	// Never loaded, or no fitting key: refetch (rate-limited) and look again.
	if err := s.refresh(ctx, snap); err != nil {
		if errors.Is(err, errRateLimited) && !errors.Is(err, ErrUnavailable) {
			return nil, nil, fmt.Errorf("%w: no key for kid %q alg %s (%w)", ErrInvalidToken, kid, alg, err)
		}
		return nil, nil, err
	}
	if snap = s.snap.Load(); snap != nil {
		if ks := snap.find(kid, alg); len(ks) > 0 {
			return ks, snap, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: no key for kid %q alg %s in the JWKS of %q", ErrInvalidToken, kid, alg, s.issuer)
}

// errRateLimited reports a refetch skipped because the last attempt was
// less than minInterval ago. Alone it means the loaded set is healthy;
// wrapped with ErrUnavailable it means there is no usable set.
var errRateLimited = errors.New("bearer: key refetch rate-limited")

// refresh fetches the key set unless another caller replaced seen while
// this one waited (nil: look again), or the rate limit forbids it.
func (s *keySource) refresh(ctx context.Context, seen *keySnapshot) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for keys of %q: %w", ErrUnavailable, s.issuer, ctx.Err())
	}
	defer func() { <-s.sem }()
	if s.snap.Load() != seen {
		return nil
	}
	return s.fetchLimitedLocked(ctx)
}

// fetchLimitedLocked fetches unless the last attempt was under minInterval
// ago. The caller holds sem.
func (s *keySource) fetchLimitedLocked(ctx context.Context) error {
	if s.lastAttempt.IsZero() || s.now().Sub(s.lastAttempt) >= s.minInterval {
		return s.fetchLocked(ctx)
	}
	if s.lastErr != nil {
		return fmt.Errorf("%w: keys of %q: %w; last attempt: %w", ErrUnavailable, s.issuer, errRateLimited, s.lastErr)
	}
	return errRateLimited
}

// fetchLocked discovers the JWKS URL if needed and fetches the key set. The
// caller holds sem.
func (s *keySource) fetchLocked(ctx context.Context) error {
	s.lastAttempt = s.now()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	err := s.fetch(ctx)
	s.lastErr = err
	if err != nil {
		s.log.Warn("bearer: cannot load issuer keys", "issuer", s.issuer, "err", err)
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

func (s *keySource) fetch(ctx context.Context) error {
	u := s.jwksURL
	if u == "" {
		u = s.discovered
	}
	if u == "" {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := s.getJSON(ctx, strings.TrimSuffix(s.issuer, "/")+"/.well-known/openid-configuration", &doc); err != nil {
			return fmt.Errorf("bearer: discovery for %q: %w", s.issuer, err)
		}
		if doc.Issuer != s.issuer {
			return fmt.Errorf("bearer: discovery for %q advertises issuer %q", s.issuer, doc.Issuer)
		}
		if err := checkURL(doc.JWKSURI); err != nil {
			return fmt.Errorf("bearer: discovery for %q: jwks_uri: %w", s.issuer, err)
		}
		s.discovered, u = doc.JWKSURI, doc.JWKSURI
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := s.getJSON(ctx, u, &set); err != nil {
		return fmt.Errorf("bearer: JWKS of %q: %w", s.issuer, err)
	}
	snap := &keySnapshot{fetchedAt: s.now()}
	for i, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			s.log.Debug("bearer: skipping unusable JWK", "issuer", s.issuer, "index", i, "err", err)
			continue
		}
		if _, symmetric := k.Key.([]byte); symmetric {
			continue // never verify with a shared secret
		}
		if pk, ok := k.Key.(*rsa.PublicKey); ok && pk.N.BitLen() < minRSABits {
			// RFC 7518 §3.3 (RS*) and §3.5 (PS*); Go only refuses under 1024.
			s.log.Warn("bearer: skipping RSA key under 2048 bits", "issuer", s.issuer, "kid", k.KeyID, "bits", pk.N.BitLen())
			continue
		}
		snap.keys = append(snap.keys, k.Public())
	}
	if len(snap.keys) == 0 {
		return fmt.Errorf("bearer: JWKS of %q holds no usable public key", s.issuer)
	}
	s.snap.Store(snap)
	return nil
}

func (s *keySource) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDocBytes))
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocBytes+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if len(body) > maxDocBytes {
		return fmt.Errorf("GET %s: response over %d bytes", u, maxDocBytes)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// checkURL accepts absolute http(s) URLs only.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}
