package proxy_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

func TestBearerTokenReachesUpstreamAsIdentity(t *testing.T) {
	e := newEnv(t, envOptions{bearer: true})
	tok := e.idp.MintIDToken(testidp.DefaultUser())
	got := echoed(t, e.get(e.client(), "/api/items", "Authorization", "Bearer "+tok))
	if got.Headers["X-Forwarded-Email"][0] != "alice@example.com" || got.Headers["X-Forwarded-Groups"][0] != "dev" {
		t.Fatalf("identity headers: %v", got.Headers)
	}
	if _, ok := got.Headers["Authorization"]; ok {
		t.Fatal("gatehouse's bearer credential was passed to the upstream")
	}
	verifyAssertion(t, e, got.Headers["X-Gatehouse-Assertion"], "alice@example.com")
}

func TestHostileBearerTokensAreJSON401(t *testing.T) {
	e := newEnv(t, envOptions{bearer: true})
	user := testidp.DefaultUser()
	cases := map[string]func() string{
		"garbage":  func() string { return "not-a-jwt" },
		"opaque":   func() string { return "2YotnFZFEjr1zCsicMWpAA" },
		"alg none": func() string { e.idp.SetFaults(testidp.Faults{AlgNone: true}); return e.idp.MintIDToken(user) },
		"hs256 with public key": func() string {
			e.idp.SetFaults(testidp.Faults{HS256WithPublicKey: true})
			return e.idp.MintIDToken(user)
		},
		"wrong audience": func() string { e.idp.SetFaults(testidp.Faults{WrongAudience: true}); return e.idp.MintIDToken(user) },
		"expired":        func() string { e.idp.SetFaults(testidp.Faults{Expired: true}); return e.idp.MintIDToken(user) },
		"unknown kid":    func() string { e.idp.SetFaults(testidp.Faults{UnknownKID: true}); return e.idp.MintIDToken(user) },
		"issuer trailing slash": func() string {
			e.idp.SetFaults(testidp.Faults{IssuerTrailingSlash: true})
			return e.idp.MintIDToken(user)
		},
	}
	for name, mint := range cases {
		t.Run(name, func(t *testing.T) {
			tok := mint()
			e.idp.SetFaults(testidp.Faults{})
			resp := e.get(e.client(), "/api/items", "Authorization", "Bearer "+tok, "Accept", "text/html")
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" {
				t.Fatalf("status %d Location %q, want 401 without redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
			if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Fatalf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
}

func TestAssertionReplacesClientCopyAndVerifies(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	e.oidcLogin(c, "/")
	got := echoed(t, e.get(c, "/", "X-Gatehouse-Assertion", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJyb290In0."))
	verifyAssertion(t, e, got.Headers["X-Gatehouse-Assertion"], "alice@example.com")

	// Forward-auth answers carry it too.
	e2 := newEnv(t, envOptions{trusted: "[127.0.0.1/32]"})
	c2 := e2.client()
	e2.oidcLogin(c2, "/")
	resp := e2.get(c2, "/oauth2/auth", "X-Forwarded-Method", "GET", "X-Forwarded-Host", "127.0.0.1", "X-Forwarded-Uri", "/x")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("forward-auth %d", resp.StatusCode)
	}
	verifyAssertion(t, e2, resp.Header.Values("X-Gatehouse-Assertion"), "alice@example.com")

	// An IPv6 host is the audience with its brackets, with or without a
	// port (it was "::1" with one and "[::1]" without).
	for _, host := range []string{"[::1]:8443", "[::1]"} {
		resp := e2.get(c2, "/oauth2/auth", "X-Forwarded-Method", "GET", "X-Forwarded-Host", host, "X-Forwarded-Uri", "/x")
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("forward-auth for %s: %d", host, resp.StatusCode)
		}
		verifyAssertion(t, e2, resp.Header.Values("X-Gatehouse-Assertion"), "alice@example.com", "[::1]")
	}
}

// verifyAssertion checks the header the way an upstream would: against
// jwks.json fetched over HTTP.
func verifyAssertion(t *testing.T, e *env, values []string, wantEmail string, wantAud ...string) {
	t.Helper()
	if len(values) != 1 {
		t.Fatalf("X-Gatehouse-Assertion values: %v", values)
	}
	resp := e.get(e.client(), "/oauth2/jwks.json")
	var keys jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&keys); err != nil || len(keys.Keys) == 0 {
		t.Fatalf("jwks.json: %v", err)
	}
	tok, err := jwt.ParseSigned(values[0], []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("parse assertion: %v", err)
	}
	var std jwt.Claims
	var extra struct {
		Email  string   `json:"email"`
		Groups []string `json:"groups"`
	}
	if err := tok.Claims(keys, &std, &extra); err != nil {
		t.Fatalf("assertion signature: %v", err)
	}
	aud := jwt.Audience{"127.0.0.1"}
	if len(wantAud) > 0 {
		aud = wantAud
	}
	if err := std.Validate(jwt.Expected{Issuer: e.srv.URL, AnyAudience: aud}); err != nil {
		t.Fatalf("assertion claims: %v", err)
	}
	if extra.Email != wantEmail {
		t.Fatalf("assertion email %q", extra.Email)
	}
}

// SECURITY.md A151: a bearer token that fails verification (here a forged
// signature) is a security event with its own line at warn, carrying the
// request id and why, on the proxy and at forward-auth alike. It was logged
// only at debug, so at the production level (info) a forged token left
// nothing but an access line with a 401.
func TestRejectedBearerTokenIsLoggedAtWarn(t *testing.T) {
	e := newEnv(t, envOptions{bearer: true, trusted: "[127.0.0.1/32]"})
	tok := e.idp.MintIDToken(testidp.DefaultUser())
	dot := strings.LastIndexByte(tok, '.')
	sig := []byte(tok[dot+1:])
	// Still base64url, no longer the signature.
	if sig[3] == 'A' {
		sig[3] = 'B'
	} else {
		sig[3] = 'A'
	}
	forged := tok[:dot+1] + string(sig)
	for _, path := range []string{"/api/items", "/oauth2/auth"} {
		resp := e.get(e.client(), path, "Authorization", "Bearer "+forged,
			"X-Forwarded-Method", "GET", "X-Forwarded-Host", "app.test", "X-Forwarded-Uri", "/api/items")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: status %d, want 401", path, resp.StatusCode)
		}
		rid := resp.Header.Get("X-Request-Id")
		found := false
		for _, line := range strings.Split(e.logs.String(), "\n") {
			var rec struct {
				Level, Msg, RequestID, Error string
			}
			if json.Unmarshal([]byte(line), &rec) != nil || !strings.Contains(line, `"request_id":"`+rid+`"`) {
				continue
			}
			if rec.Level == "WARN" && rec.Msg == "bearer token rejected" && strings.Contains(line, "signature does not verify") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no warn line for the rejected token with request id %s:\n%s", path, rid, e.logs.String())
		}
		if strings.Contains(e.logs.String(), string(sig)) {
			t.Fatalf("%s: the token reached the log", path)
		}
	}
}
