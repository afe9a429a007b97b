package assertion

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/internal/testclock"
)

const testIssuer = "https://auth.example.com"

// newClock starts a test clock on a whole second, as JWT times are.
func newClock() *testclock.Clock { return testclock.New(time.Now().Truncate(time.Second)) }

func newSigner(t testing.TB, cfg config.Assertion, opts Options) *Signer {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := New(cfg, testIssuer, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// upstream is what an upstream does: it fetches jwks.json from gatehouse
// over HTTP and verifies assertions with go-jose.
type upstream struct {
	t    testing.TB
	url  string
	now  func() time.Time
	keys jose.JSONWebKeySet
}

// serveJWKS publishes s.JWKS() the way the gateway would.
func serveJWKS(t testing.TB, s *Signer) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(s.JWKS())
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/oauth2/jwks.json"
}

// refresh refetches the key set.
func (u *upstream) refresh() {
	u.t.Helper()
	resp, err := http.Get(u.url)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	u.keys = jose.JSONWebKeySet{}
	if err := json.NewDecoder(resp.Body).Decode(&u.keys); err != nil {
		u.t.Fatal(err)
	}
}

// verify checks tok for audience and returns its claims.
func (u *upstream) verify(tok, audience string) (map[string]any, error) {
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.EdDSA, jose.RS256})
	if err != nil {
		return nil, err
	}
	var std jwt.Claims
	var all map[string]any
	if err := parsed.Claims(u.keys, &std, &all); err != nil {
		return nil, err
	}
	if std.Expiry == nil || std.IssuedAt == nil {
		return nil, errors.New("exp or iat missing")
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: testIssuer, AnyAudience: jwt.Audience{audience}, Time: u.now()}, 0); err != nil {
		return nil, err
	}
	return all, nil
}

func alice() *identity.Identity {
	return &identity.Identity{
		Provider: "corp", Subject: "u-1", PreferredUsername: "alice", Email: "alice@example.com",
		EmailVerified: true, Groups: []string{"dev", "ops"}, Roles: []string{"admin"},
	}
}

func writeFile(t testing.TB, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func jsonB64(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func rewrite(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
