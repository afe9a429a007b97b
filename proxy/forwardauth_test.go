package proxy_test

import (
	"net/http"
	"net/url"
	"testing"
)

// traefik sends what Traefik's forwardAuth documents: the original request
// in X-Forwarded-Method/Proto/Host/Uri/For, the client's headers copied.
func traefik(e *env, c *http.Client, method, host, uri string, extra ...string) *http.Response {
	hdr := []string{"X-Forwarded-Method", method, "X-Forwarded-Proto", "https", "X-Forwarded-Host", host, "X-Forwarded-Uri", uri, "X-Forwarded-For", "203.0.113.7"}
	return e.get(c, "/oauth2/auth?redirect=1", append(hdr, extra...)...)
}

func TestForwardAuthTraefikContract(t *testing.T) {
	rules := `  - {name: admin, prefix: /admin, allow: {groups: [admins]}}
  - {name: public, prefix: /public, allow: public}
  - {name: everyone, prefix: /, allow: authenticated}
`
	e := newEnv(t, envOptions{trusted: "[127.0.0.1/32]", rules: rules})
	anon := e.client()

	// Anonymous browser: 302 to sign-in with the original URL as rd.
	resp := traefik(e, anon, "GET", "app.test", "/reports?q=1", "Accept", "text/html")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("anonymous browser: %d", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Path != "/oauth2/sign_in" {
		t.Fatalf("Location %q", resp.Header.Get("Location"))
	}
	// app.test is not an allowed redirect host, so rd falls back to "/".
	if rd := loc.Query().Get("rd"); rd != "/" {
		t.Fatalf("rd %q for a host outside allowed_redirect_domains", rd)
	}
	// Anonymous API client: 401 without Location.
	resp = traefik(e, anon, "GET", "app.test", "/reports", "Accept", "application/json")
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" {
		t.Fatalf("anonymous API: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Public path: 202 without identity.
	resp = traefik(e, anon, "GET", "app.test", "/public/x")
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("X-Auth-Request-User") != "" {
		t.Fatalf("public: %d", resp.StatusCode)
	}

	c := e.client()
	e.oidcLogin(c, "/")
	resp = traefik(e, c, "GET", "app.test", "/reports")
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("X-Auth-Request-Email") != "alice@example.com" {
		t.Fatalf("signed in: %d %v", resp.StatusCode, resp.Header)
	}
	if resp.Header.Get("X-Gatehouse-Assertion") == "" {
		t.Fatal("no assertion on the 202")
	}
	resp = traefik(e, c, "POST", "app.test", "/admin/users")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("admin for a non-admin: %d", resp.StatusCode)
	}
}

func TestForwardAuthMalformedMetadataIsNever2xx(t *testing.T) {
	e := newEnv(t, envOptions{trusted: "[127.0.0.1/32]", rules: "  - {name: public, prefix: /, allow: public}\n"})
	c := e.client()
	for name, hdr := range map[string][]string{
		"missing host":       {"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/x"},
		"missing uri":        {"X-Forwarded-Method", "GET", "X-Forwarded-Host", "app.test"},
		"missing method":     {"X-Forwarded-Host", "app.test", "X-Forwarded-Uri", "/x"},
		"relative uri":       {"X-Forwarded-Method", "GET", "X-Forwarded-Host", "app.test", "X-Forwarded-Uri", "x"},
		"host with slash":    {"X-Forwarded-Method", "GET", "X-Forwarded-Host", "app.test/evil", "X-Forwarded-Uri", "/x"},
		"host with userinfo": {"X-Forwarded-Method", "GET", "X-Forwarded-Host", "a@app.test", "X-Forwarded-Uri", "/x"},
		"lower-case method":  {"X-Forwarded-Method", "get", "X-Forwarded-Host", "app.test", "X-Forwarded-Uri", "/x"},
		"method with junk":   {"X-Forwarded-Method", "GETz", "X-Forwarded-Host", "app.test", "X-Forwarded-Uri", "/x"},
		"ambiguous path":     {"X-Forwarded-Method", "GET", "X-Forwarded-Host", "app.test", "X-Forwarded-Uri", "/a/..%2fadmin"},
		// nginx decodes %23 before it resolves dot segments: it serves
		// /admin/x for these, which must not be judged as /public.
		"dot segments after encoded hash":                 {"X-Forwarded-Method", "GET", "X-Forwarded-Host", "app.test", "X-Forwarded-Uri", "/public%23/../admin/x"},
		"dot segments after encoded hash, X-Original-URL": {"X-Original-URL", "https://app.test/public/x%23/../../admin/x"},
		"dot segment cut by encoded hash":                 {"X-Forwarded-Method", "GET", "X-Forwarded-Host", "app.test", "X-Forwarded-Uri", "/admin/..%23/x"},
		"bad original url":                                {"X-Original-URL", "ftp://app.test/x"},
		"original url no host":                            {"X-Original-URL", "/x"},
		// Traefik and Caddy pass a client's own headers on beside theirs:
		// a second dialect or a repeated header is the client's claim.
		"client X-Original-URL beside Traefik's": {"X-Forwarded-Method", "GET", "X-Forwarded-Host", "app.test", "X-Forwarded-Uri", "/admin/x",
			"X-Original-URL", "https://app.test/public/x"},
		"client X-Original-URL beside a forwarded method": {"X-Forwarded-Method", "DELETE", "X-Original-URL", "https://app.test/x"},
		"repeated uri":             {"X-Forwarded-Method", "GET", "X-Forwarded-Host", "app.test", "X-Forwarded-Uri", "/public/x", "X-Forwarded-Uri", "/admin/x"},
		"repeated host":            {"X-Forwarded-Method", "GET", "X-Forwarded-Host", "app.test", "X-Forwarded-Host", "admin.test", "X-Forwarded-Uri", "/x"},
		"repeated method":          {"X-Forwarded-Method", "GET", "X-Forwarded-Method", "DELETE", "X-Forwarded-Host", "app.test", "X-Forwarded-Uri", "/x"},
		"repeated proto":           {"X-Forwarded-Method", "GET", "X-Forwarded-Proto", "https", "X-Forwarded-Proto", "http", "X-Forwarded-Host", "app.test", "X-Forwarded-Uri", "/x"},
		"repeated original url":    {"X-Original-URL", "https://app.test/public/x", "X-Original-URL", "https://app.test/admin/x"},
		"repeated original method": {"X-Original-URL", "https://app.test/x", "X-Original-Method", "GET", "X-Original-Method", "DELETE"},
	} {
		t.Run(name, func(t *testing.T) {
			resp := e.get(c, "/oauth2/auth", hdr...)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", resp.StatusCode)
			}
		})
	}
}

func TestForwardAuthIngressNginxHeaders(t *testing.T) {
	e := newEnv(t, envOptions{trusted: "[127.0.0.1/32]", rules: "  - {name: admin, prefix: /admin, deny: true}\n  - {name: public, prefix: /, allow: public}\n"})
	c := e.client()
	if r := e.get(c, "/oauth2/auth", "X-Original-URL", "https://app.test/admin/x", "X-Original-Method", "GET"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("denied path via X-Original-URL: %d", r.StatusCode)
	}
	if r := e.get(c, "/oauth2/auth", "X-Original-URL", "https://app.test/docs", "X-Original-Method", "GET"); r.StatusCode != http.StatusAccepted {
		t.Fatalf("public path via X-Original-URL: %d", r.StatusCode)
	}
	// The same normalisation as proxy mode: dot segments cannot reach /admin.
	if r := e.get(c, "/oauth2/auth", "X-Original-URL", "https://app.test/docs/%2e%2e/admin/x"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("dot segments via X-Original-URL: %d", r.StatusCode)
	}
}

// A peer outside trusted_proxies never gets a 2xx: there is no trusted
// request to judge, so a catch-all rule must not wave a session through.
func TestForwardAuthUntrustedPeerNever2xx(t *testing.T) {
	e := newEnv(t, envOptions{rules: "  - {name: admin, prefix: /admin, deny: true}\n  - {name: everyone, prefix: /, allow: authenticated}\n"})
	c := e.client()
	e.oidcLogin(c, "/")
	for name, hdr := range map[string][]string{
		"traefik headers": {"X-Forwarded-Method", "POST", "X-Forwarded-Host", "app.test", "X-Forwarded-Uri", "/admin/users"},
		"nginx headers":   {"X-Original-URL", "https://app.test/admin/users"},
		"no headers":      {},
	} {
		resp := e.get(c, "/oauth2/auth", hdr...)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s, signed in, untrusted peer: %d, want 403", name, resp.StatusCode)
		}
		if resp := e.get(e.client(), "/oauth2/auth", hdr...); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s, anonymous, untrusted peer: %d, want 401", name, resp.StatusCode)
		}
	}
}
