package proxy_test

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// spoofHeaders are the identity headers a client must never be able to set.
var spoofHeaders = []string{
	"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Preferred-Username",
	"X-Forwarded-Groups", "X-Forwarded-Roles", "X-Forwarded-Access-Token",
	"X-Gatehouse-Assertion", "X-Auth-Request-User", "X-Auth-Request-Email",
	"X-Auth-Request-Groups", "X-Auth-Request-Roles", "X-Auth-Request-Preferred-Username",
	"X-HTTP-Method-Override",
}

// spellings of one header name that Go does not canonicalise into one key.
func spellings(h string) []string {
	return []string{h, strings.ToLower(h), strings.ToUpper(h), strings.ReplaceAll(h, "-", "_"), strings.ToLower(strings.ReplaceAll(h, "-", "_"))}
}

// rawGet sends a request with header names exactly as written (net/http
// would canonicalise them), and returns the response.
func rawGet(t *testing.T, addr, path string, headers [][2]string) *http.Response {
	t.Helper()
	return rawRequest(t, addr, addr, path, headers)
}

// rawRequest is rawGet with any Host header.
func rawRequest(t *testing.T, addr, host, path string, headers [][2]string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var b strings.Builder
	b.WriteString("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n")
	for _, h := range headers {
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufioReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestClientIdentityHeadersNeverReachUpstream(t *testing.T) {
	e := newEnv(t, envOptions{rules: "  - {name: public, prefix: /, allow: public}\n"})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	for _, h := range spoofHeaders {
		for _, name := range spellings(h) {
			t.Run(name, func(t *testing.T) {
				got := echoed(t, rawGet(t, addr, "/public", [][2]string{{name, "evil@x.test"}, {" " + name, "evil2"}}))
				for k, v := range got.Headers {
					if strings.Contains(strings.Join(v, ","), "evil") {
						t.Fatalf("spoofed %s reached upstream as %s: %v", name, k, v)
					}
				}
			})
		}
	}
}

func TestSpoofedHeadersReplacedAfterLogin(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	e.oidcLogin(c, "/")
	args := []string{"Connection", "X-Forwarded-Email"}
	for _, h := range spoofHeaders {
		args = append(args, h, "evil@x.test")
	}
	got := echoed(t, e.get(c, "/", args...))
	if v := got.Headers["X-Forwarded-Email"]; len(v) != 1 || v[0] != "alice@example.com" {
		t.Fatalf("X-Forwarded-Email = %v", v)
	}
	for k, v := range got.Headers {
		if strings.Contains(strings.Join(v, ","), "evil") {
			t.Fatalf("spoofed header reached upstream: %s: %v", k, v)
		}
	}
}

func TestForwardAuthIgnoresClientIdentityHeaders(t *testing.T) {
	e := newEnv(t, envOptions{trusted: "[127.0.0.1/32]"})
	c := e.client()
	e.oidcLogin(c, "/")
	resp := e.get(c, "/oauth2/auth", "X-Forwarded-Method", "GET", "X-Forwarded-Host", "app.test", "X-Forwarded-Uri", "/x",
		"X-Auth-Request-Email", "evil@x.test", "X-Auth-Request-Groups", "admins")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := resp.Header.Values("X-Auth-Request-Email"); len(got) != 1 || got[0] != "alice@example.com" {
		t.Fatalf("X-Auth-Request-Email %v", got)
	}
	if got := resp.Header.Get("X-Auth-Request-Groups"); got != "dev" {
		t.Fatalf("X-Auth-Request-Groups %q", got)
	}
}

// SECURITY.md A059: a client's own Authorization: Bearer never reaches the
// upstream, signed in or on a public route, whatever its spelling; gatehouse
// did not configure bearer issuers here, so the token was not judged at all.
// Other schemes (an app's own Basic auth) pass.
func TestClientBearerAuthorizationNeverReachesUpstream(t *testing.T) {
	e := newEnv(t, envOptions{rules: "  - {name: public, path: /public, allow: public}\n  - {name: all, prefix: /, allow: authenticated}\n"})
	c := e.client()
	e.localLogin(c, "carol", carolPassword, "/")
	for _, tc := range []struct {
		name, path, value string
		client            *http.Client
		want              []string
	}{
		{"public route", "/public", "Bearer forged", e.client(), nil},
		{"signed in", "/x", "Bearer forged", c, nil},
		{"lower-case scheme", "/x", "bearer forged", c, nil},
		{"upper-case scheme", "/x", "BEARER forged", c, nil},
		{"basic passes", "/x", "Basic dXNlcjpwYXNz", c, []string{"Basic dXNlcjpwYXNz"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := echoed(t, e.get(tc.client, tc.path, "Authorization", tc.value))
			if v := got.Headers["Authorization"]; !slices.Equal(v, tc.want) {
				t.Fatalf("upstream got Authorization %q, want %q", v, tc.want)
			}
		})
	}
}

// DESIGN.md: POST sign_out?rd=URL sends the user to rd (validated) afterwards.
func TestSignOutFollowsRDInTheQuery(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct{ rd, want string }{
		{"/goodbye", "/goodbye"},
		{"https://evil.example/", "/"}, // not an allowed redirect target
	} {
		c := e.client()
		e.localLogin(c, "carol", carolPassword, "/")
		m := csrfRe.FindStringSubmatch(body(t, e.get(c, "/oauth2/sign_out")))
		if m == nil {
			t.Fatal("no CSRF token on the sign-out page")
		}
		noFollow := *c
		noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		req, _ := http.NewRequest(http.MethodPost, e.url("/oauth2/sign_out?rd="+url.QueryEscape(tc.rd)), strings.NewReader("csrf="+url.QueryEscape(m[1])))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tc.want {
			t.Fatalf("rd %q: %d to %q, want 303 to %q", tc.rd, resp.StatusCode, resp.Header.Get("Location"), tc.want)
		}
	}
}
