package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/echo"
)

func TestRoutingByHostAndLongestPath(t *testing.T) {
	api := httptest.NewServer(echo.Handler())
	t.Cleanup(api.Close)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "other:"+r.URL.Path) }))
	t.Cleanup(other.Close)
	e := newEnv(t, envOptions{
		rules: "  - {name: public, prefix: /, allow: public}\n",
		upstreams: fmt.Sprintf("  - {path: /, url: %q}\n  - {path: /api/, url: %q, strip_prefix: true}\n  - {host: other.test, path: /, url: %q}\n",
			"http://127.0.0.1:1", api.URL, other.URL),
	})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	if got := echoed(t, e.get(e.client(), "/api/v1/items")); got.Path != "/v1/items" {
		t.Fatalf("strip_prefix: upstream saw %q", got.Path)
	}
	// Paths route in any case, as rules judge them (case_sensitive_paths
	// is off), and strip_prefix cuts the prefix as the client wrote it.
	if got := echoed(t, e.get(e.client(), "/API/v1/items")); got.Path != "/v1/items" {
		t.Fatalf("/API with strip_prefix: upstream saw %q", got.Path)
	}
	// "/api/" also takes "/api" itself, as a rule's prefix does (an upstream
	// configured as exactly "/api" would come first: TestBareAndSlashUpstreams).
	if got := echoed(t, e.get(e.client(), "/api")); got.Path != "/" {
		t.Fatalf("/api with strip_prefix: upstream saw %q, want /", got.Path)
	}
	// The /api prefix is segment-aware: /apix goes to the catch-all (down here).
	if r := e.get(e.client(), "/apix"); r.StatusCode != http.StatusBadGateway {
		t.Fatalf("/apix: %d, want 502 from the catch-all upstream", r.StatusCode)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /x HTTP/1.1\r\nHost: OTHER.test\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "other:/x" {
		t.Fatalf("host routing: %q", b)
	}
}

// Upstream hosts match as rule hosts do: "*.example.test" is any subdomain at
// a label boundary, never the apex; an exact host wins over a wildcard and a
// longer suffix over a shorter one, before the path is compared.
func TestRoutingByWildcardHost(t *testing.T) {
	named := func(name string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name+":"+r.URL.Path) }))
		t.Cleanup(s.Close)
		return s.URL
	}
	e := newEnv(t, envOptions{
		rules: "  - {name: public, prefix: /, allow: public}\n",
		upstreams: fmt.Sprintf("  - {host: '*.example.test', path: /, url: %q}\n  - {host: app.example.test, path: /, url: %q}\n"+
			"  - {host: '*.deep.example.test', path: /x/, url: %q}\n",
			named("wild"), named("app"), named("deep")),
	})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	tests := []struct {
		host, path string
		want       string // body, or "404"
	}{
		{"app.example.test", "/a", "app:/a"},
		{"api.example.test", "/a", "wild:/a"},
		{"API.Example.TEST.:8443", "/a", "wild:/a"},
		{"a.b.example.test", "/a", "wild:/a"},
		{"x.deep.example.test", "/x/1", "deep:/x/1"},
		{"x.deep.example.test", "/y", "wild:/y"},
		{"deep.example.test", "/x/1", "wild:/x/1"},
		{"example.test", "/a", "404"},
		{"evilexample.test", "/a", "404"},
		{"app.example.test.evil", "/a", "404"},
	}
	for _, tt := range tests {
		t.Run(tt.host+tt.path, func(t *testing.T) {
			resp := rawRequest(t, addr, tt.host, tt.path, nil)
			got := body(t, resp)
			if tt.want == "404" {
				if resp.StatusCode != http.StatusNotFound {
					t.Fatalf("status %d (%q), want 404", resp.StatusCode, got)
				}
				return
			}
			if resp.StatusCode != http.StatusOK || got != tt.want {
				t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, got, tt.want)
			}
		})
	}
}

func TestSlowUpstreamIs504(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	e := newEnv(t, envOptions{
		rules:     "  - {name: public, prefix: /, allow: public}\n",
		upstreams: fmt.Sprintf("  - {path: /, url: %q, timeout: 50ms}\n", slow.URL),
	})
	resp := e.get(e.client(), "/", "Accept", "text/html")
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504", resp.StatusCode)
	}
	if b := body(t, resp); strings.Contains(b, slow.URL) || strings.Contains(b, "timeout awaiting") {
		t.Fatalf("504 page leaks internals: %s", b)
	}
}

func TestServerSentEventsAreFlushed(t *testing.T) {
	next := make(chan struct{})
	sse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-next:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "data: two\n\n")
	}))
	t.Cleanup(sse.Close)
	e := newEnv(t, envOptions{rules: "  - {name: public, prefix: /, allow: public}\n", upstreams: fmt.Sprintf("  - {path: /, url: %q}\n", sse.URL)})
	resp := e.get(e.client(), "/events")
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("first event before the stream ended: %q %v", line, err)
	}
	close(next)
}

// wsUpstream completes a WebSocket-style upgrade and echoes bytes back.
func wsUpstream(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want upgrade", 400)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Seen-User: %s\r\n\r\n", r.Header.Get("X-Forwarded-User"))
		brw.Flush()
		io.Copy(conn, brw)
	}))
	t.Cleanup(s.Close)
	return s
}

func wsHandshake(t *testing.T, addr string, extra string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n", addr, extra)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp, conn, br
}

func TestWebSocketUpgradeOnlyAfterRulesAllow(t *testing.T) {
	ws := wsUpstream(t)
	e := newEnv(t, envOptions{upstreams: fmt.Sprintf("  - {path: /, url: %q}\n", ws.URL)})
	addr := strings.TrimPrefix(e.srv.URL, "http://")

	resp, _, _ := wsHandshake(t, addr, "")
	if resp.StatusCode == http.StatusSwitchingProtocols || (resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusFound) {
		t.Fatalf("anonymous upgrade: %d, want 401/302", resp.StatusCode)
	}

	c := e.client()
	e.oidcLogin(c, "/")
	var cookie string
	for _, ck := range c.Jar.Cookies(mustURL(e.srv.URL)) {
		cookie += "Cookie: " + ck.Name + "=" + ck.Value + "\r\n"
	}
	resp, _, _ = wsHandshake(t, addr, cookie+"Origin: https://evil.example\r\n")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin upgrade: %d, want 403", resp.StatusCode)
	}
	resp, conn, br := wsHandshake(t, addr, cookie+"Origin: "+e.srv.URL+"\r\n")
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("X-Seen-User") != "alice" {
		t.Fatalf("upgrade: %d, upstream saw user %q", resp.StatusCode, resp.Header.Get("X-Seen-User"))
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo over the tunnel: %q %v", buf, err)
	}
}

// After a 101 the connection is a raw tunnel: only WebSocket may open one.
// An h2c upgrade would let the client send new requests through it that no
// rule judged, so any other protocol is 400 before the upstream sees it.
// Origins that only look like the gateway's are refused too.
func TestOnlyWebSocketUpgradesAreTunnelled(t *testing.T) {
	var seen atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n\r\n", r.Header.Get("Upgrade"))
		brw.Flush()
		io.Copy(conn, brw)
	}))
	t.Cleanup(up.Close)
	e := newEnv(t, envOptions{
		rules:     "  - {name: public, prefix: /, allow: public}\n",
		upstreams: fmt.Sprintf("  - {path: /, url: %q}\n", up.URL),
	})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	for name, hdr := range map[string]string{
		"h2c":                 "Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
		"websocket and h2c":   "Upgrade: websocket, h2c\r\nConnection: Upgrade\r\n",
		"two upgrade headers": "Upgrade: websocket\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n",
		"other protocol":      "Upgrade: TLS/1.2\r\nConnection: Upgrade\r\n",
		"null origin":         "Upgrade: websocket\r\nConnection: Upgrade\r\nOrigin: null\r\n",
		"look-alike origin":   "Upgrade: websocket\r\nConnection: Upgrade\r\nOrigin: " + e.srv.URL + ".evil.example\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "GET /x HTTP/1.1\r\nHost: %s\r\n%s\r\n", addr, hdr)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 400 or 403", resp.StatusCode)
			}
		})
	}
	if n := seen.Load(); n != 0 {
		t.Fatalf("the upstream saw %d refused upgrade(s)", n)
	}
}

// With both /app and /app/ configured, /app goes to the first and anything
// under /app/ to the second, as before /app/ learnt to take the bare /app.
func TestBareAndSlashUpstreams(t *testing.T) {
	named := func(name string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
		t.Cleanup(s.Close)
		return s.URL
	}
	e := newEnv(t, envOptions{
		rules:     "  - {name: public, prefix: /, allow: public}\n",
		upstreams: fmt.Sprintf("  - {path: /app/, url: %q}\n  - {path: /app, url: %q}\n  - {path: /, url: %q}\n", named("slash"), named("bare"), named("root")),
	})
	for path, want := range map[string]string{"/app": "bare", "/app/": "slash", "/app/x": "slash", "/apps": "root"} {
		if got := body(t, e.get(e.client(), path)); got != want {
			t.Errorf("%s went to %q, want %q", path, got, want)
		}
	}
}
