package proxy_test

import (
	"net"
	"net/http"
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
