package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

func TestPathNormalisedOnceForRulesAndUpstream(t *testing.T) {
	rules := `  - {name: admin, prefix: /admin, allow: {emails: [root@example.com]}}
  - {name: public, prefix: /public, allow: public}
  - {name: rest, prefix: /, allow: authenticated}
`
	e := newEnv(t, envOptions{rules: rules})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	c := e.client()
	e.oidcLogin(c, "/") // alice: authenticated, not admin
	for _, tc := range []struct {
		path       string
		wantStatus int
		wantPath   string
	}{
		{"/public/x", 200, "/public/x"},
		{"/public/%2e%2e/admin", 403, ""},
		{"/public/%2E%2E/admin", 403, ""},
		{"/public//..//admin", 403, ""},
		{"//admin", 403, ""},
		{"/public/..%2fadmin", 400, ""},
		{"/public/%2f..%2f/admin", 400, ""},
		{"/public/%252e%252e/admin", 200, "/public/%252e%252e/admin"},
		{"/echo//foo//bar", 200, "/echo/foo/bar"},
		{"/a/./b/../c", 200, "/a/c"},
		{"/%7Euser", 200, "/~user"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			var cookies [][2]string
			for _, ck := range c.Jar.Cookies(mustURL(e.srv.URL)) {
				cookies = append(cookies, [2]string{"Cookie", ck.Name + "=" + ck.Value})
			}
			resp := rawGet(t, addr, tc.path, append(cookies, [2]string{"Accept", "application/json"}))
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus == 200 {
				if got := echoed(t, resp); got.RawPath != tc.wantPath {
					t.Fatalf("upstream saw %q, want %q", got.RawPath, tc.wantPath)
				}
			}
		})
	}
}

func TestInvalidMethodRejected(t *testing.T) {
	e := newEnv(t, envOptions{rules: "  - {name: public, prefix: /, allow: public}\n"})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	for _, m := range []string{"GETz", "get", "G@T"} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "%s /x HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", m, addr)
		resp, err := http.ReadResponse(bufioReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", m, resp.StatusCode)
		}
	}
}

func TestUnknownHostIsNotProxied(t *testing.T) {
	up := fmt.Sprintf("  - {host: app.test, path: /, url: %q}\n", "http://127.0.0.1:1")
	e := newEnv(t, envOptions{upstreams: up, rules: "  - {name: public, prefix: /, allow: public}\n"})
	resp := e.get(e.client(), "/", "Accept", "application/json")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d, want 404", resp.StatusCode)
	}
}

func TestUpstreamDownIsGeneric502(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	e := newEnv(t, envOptions{upstreams: fmt.Sprintf("  - {path: /, url: %q}\n", "http://"+dead), rules: "  - {name: public, prefix: /, allow: public}\n"})
	for _, accept := range []string{"text/html", "application/json"} {
		resp := e.get(e.client(), "/", "Accept", accept)
		b := body(t, resp)
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("status %d, want 502", resp.StatusCode)
		}
		if strings.Contains(b, dead) || strings.Contains(b, "connection refused") || strings.Contains(b, "dial") {
			t.Fatalf("502 body leaks internals: %s", b)
		}
		if !strings.Contains(e.logs.String(), "connection refused") {
			t.Fatal("the cause was not logged")
		}
	}
}

func TestUpstreamCannotSetGatewayCookieOrIdentityHeaders(t *testing.T) {
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "_gatehouse=forged; Path=/")
		w.Header().Add("Set-Cookie", "_gatehouse_0=forged; Path=/")
		// Nameless cookies: a browser sends each back as its bare value,
		// "_gatehouse=forged", which reads as gatehouse's session cookie.
		w.Header().Add("Set-Cookie", "=_gatehouse=forged; Path=/")
		w.Header().Add("Set-Cookie", " = _gatehouse_csrf=forged; Path=/")
		w.Header().Add("Set-Cookie", "=__Host-_gatehouse=forged; Path=/")
		w.Header().Add("Set-Cookie", "_gatehouse_1; Path=/")
		w.Header().Add("Set-Cookie", "app=kept; Path=/")
		w.Header().Set("X-Auth-Request-User", "admin")
		_, _ = io.WriteString(w, "ok")
	})
	e := newEnv(t, envOptions{upstream: up, rules: "  - {name: public, prefix: /, allow: public}\n"})
	resp := e.get(e.client(), "/")
	if got := resp.Header.Values("Set-Cookie"); len(got) != 1 || !strings.HasPrefix(got[0], "app=kept") {
		t.Fatalf("Set-Cookie %v", got)
	}
	if resp.Header.Get("X-Auth-Request-User") != "" {
		t.Fatal("upstream X-Auth-Request-User passed through")
	}
}

func TestGatewayPagesCarrySecureHeaders(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, path := range []string{"/oauth2/sign_in", "/oauth2/sign_out", "/oauth2/callback?state=x&code=y", "/oauth2/nope"} {
		resp := e.get(e.client(), path)
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", path, csp, want)
			}
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
}

func TestRedirectTargetsValidated(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, rd := range []string{"https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)"} {
		c := e.client()
		resp := e.localLogin(c, "carol", carolPassword, rd)
		if loc := resp.Header.Get("Location"); loc != "/" {
			t.Errorf("rd %q: Location %q, want /", rd, loc)
		}
		start := e.get(c, "/oauth2/start?provider=idp&rd="+urlEscape(rd))
		cb, err := e.idp.Authorize(start.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		if loc := e.get(c, cb.String()).Header.Get("Location"); loc != "/" {
			t.Errorf("rd %q via OIDC: Location %q, want /", rd, loc)
		}
	}
}
