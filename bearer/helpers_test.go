package bearer

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/testclock"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// newClock starts a test clock on a whole second, as JWT times are.
func newClock() *testclock.Clock { return testclock.New(time.Now().Truncate(time.Second)) }

// counter is an http.RoundTripper that counts requests by URL path.
type counter struct {
	mu    sync.Mutex
	paths map[string]int
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.paths == nil {
		c.paths = map[string]int{}
	}
	c.paths[r.URL.Path]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *counter) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paths[path]
}

// env is one test IdP with a Verifier that trusts it.
type env struct {
	idp   *testidp.IDP
	v     *Verifier
	clock *testclock.Clock
	http  *counter
	cfg   config.BearerIssuer
}

// setup starts a test IdP on an injected clock and a Verifier for it;
// mutate adjusts the issuer config and options before New.
func setup(t testing.TB, idpOpts []testidp.Option, mutate func(*env, *config.BearerIssuer, *Options)) *env {
	t.Helper()
	e := &env{clock: newClock(), http: &counter{}}
	e.idp = testidp.New(t, append([]testidp.Option{testidp.WithClock(e.clock.Now)}, idpOpts...)...)
	e.cfg = config.BearerIssuer{Issuer: e.idp.Issuer(), Audiences: []string{e.idp.ClientID()}}
	opts := Options{
		HTTPClient: &http.Client{Transport: e.http, Timeout: 5 * time.Second},
		Now:        e.clock.Now,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mutate != nil {
		mutate(e, &e.cfg, &opts)
	}
	v, err := New(t.Context(), []config.BearerIssuer{e.cfg}, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.v = v
	return e
}

// claims are standard valid claims for e's issuer at the current time.
func (e *env) claims() map[string]any {
	now := e.clock.Now()
	return map[string]any{
		"iss": e.idp.Issuer(), "aud": e.idp.ClientID(), "sub": "user-0001",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// rsaKey generates a 2048-bit RSA key for signing tokens outside the IdP.
func rsaKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signWith signs claims as a compact JWS with key, alg and extra protected
// headers (kid, jku, jwk...).
func signWith(t testing.TB, key crypto.Signer, alg jose.SignatureAlgorithm, headers map[jose.HeaderKey]any, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	for k, v := range headers {
		opts = opts.WithHeader(k, v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// hits counts requests to an attacker-controlled server.
type hits struct{ n atomic.Int32 }

func (h *hits) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.n.Add(1)
	http.Error(w, "should never be asked", http.StatusTeapot)
}

func keyOf(raw string) [32]byte { return sha256.Sum256([]byte(raw)) }
