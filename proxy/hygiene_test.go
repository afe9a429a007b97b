package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// Header hygiene and abuse limits (SECURITY.md categories "Header spoofing",
// "Oversized cookies/headers", "Slowloris/timeouts", "WebSocket auth").

// hygieneHeaders are every identity and assertion header gatehouse sets, in
// either mode; a client must never get a value of its own through.
var hygieneHeaders = []string{
	"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Forwarded-Groups",
	"X-Forwarded-Roles", "X-Forwarded-Access-Token", "X-Gatehouse-Assertion",
	"X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Groups", "X-Auth-Request-Roles",
	"X-Auth-Request-Preferred-Username",
}

// normName folds a header name the way an upstream framework might.
func normName(k string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(k), "_", "-"))
}

// forwardingHeaders carry what an intermediary says about the request. From
// a client that is not a trusted proxy, none may reach the upstream: DESIGN
// convention 6, ASVS 5.0 4.1.3, SECURITY.md A067/A085/A091.
var forwardingHeaders = []string{
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Prefix",
	"X-Forwarded-Uri", "X-Forwarded-Method", "X-Forwarded-Server", "X-Forwarded-Ssl", "X-Real-IP", "True-Client-IP",
	"Forwarded", "X-Original-URL", "X-Original-URI", "X-Original-Method",
	// Never set by gatehouse, but believed by frameworks (Rack reads
	// X-Forwarded-Scheme) and by IP libraries before X-Forwarded-For.
	"X-Forwarded-Scheme", "X-Forwarded-Path", "X-Client-IP", "CF-Connecting-IP", "X-Cluster-Client-IP", "X-Host",
}

func inList(list []string, k string) bool {
	return slices.ContainsFunc(list, func(h string) bool { return normName(k) == strings.ToLower(h) })
}

func isIdentityHeader(k string) bool { return inList(hygieneHeaders, k) }

// spelling is one way of writing a header name on the wire: the names it
// sends (each with the value, numbered when there are several). Go's server
// may refuse a mayReject spelling with 400; then it did not get through
// either. Every request starts with an X-Probe line, so "leading space"
// is a folded continuation of it.
type spelling struct {
	name      string
	names     func(h string) []string
	mayReject bool
}

func mixedCase(h string) string {
	b := []byte(strings.ToLower(h))
	for i := 0; i < len(b); i += 2 {
		if b[i] >= 'a' && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

func underscores(h string) string { return strings.ReplaceAll(h, "-", "_") }

var spellingVariants = []spelling{
	{"canonical", func(h string) []string { return []string{h} }, false},
	{"lower", func(h string) []string { return []string{strings.ToLower(h)} }, false},
	{"upper", func(h string) []string { return []string{strings.ToUpper(h)} }, false},
	{"underscores", func(h string) []string { return []string{underscores(h)} }, false},
	{"mixed", func(h string) []string { return []string{mixedCase(h)} }, false},
	{"mixed underscores", func(h string) []string { return []string{underscores(mixedCase(h))} }, false},
	{"duplicated", func(h string) []string { return []string{h, h} }, false},
	{"duplicated two spellings", func(h string) []string { return []string{strings.ToLower(h), underscores(h)} }, false},
	{"leading space", func(h string) []string { return []string{" " + h} }, true},
	{"trailing space", func(h string) []string { return []string{h + " "} }, true},
	{"trailing tab", func(h string) []string { return []string{h + "\t"} }, true},
}

func (sp spelling) lines(h, v string) [][2]string {
	out := [][2]string{{"X-Probe", "1"}}
	for i, n := range sp.names(h) {
		out = append(out, [2]string{n, fmt.Sprintf("%s-%d", v, i)})
	}
	return out
}

const marker = "spoofed-by-client"

// sessionCookies returns c's cookies for e as raw Cookie header lines.
func sessionCookies(e *env, c *http.Client) [][2]string {
	var out [][2]string
	for _, ck := range c.Jar.Cookies(mustURL(e.srv.URL)) {
		out = append(out, [2]string{"Cookie", ck.Name + "=" + ck.Value})
	}
	return out
}

// eachSpoof runs check for every header of headers in every spelling.
func eachSpoof(t *testing.T, headers []string, check func(t *testing.T, sp spelling, lines [][2]string)) {
	for _, h := range headers {
		for _, sp := range spellingVariants {
			t.Run(h+"/"+sp.name, func(t *testing.T) { check(t, sp, sp.lines(h, marker)) })
		}
	}
}

// rejectedByParser: Go's server refused the spelling with 400, so it did not get through either.
func rejectedByParser(sp spelling, resp *http.Response) bool {
	return resp.StatusCode == http.StatusBadRequest && sp.mayReject
}

func TestHygieneProxyMode(t *testing.T) {
	rules := "  - {name: public, prefix: /public, allow: public}\n  - {name: rest, prefix: /, allow: authenticated}\n"
	e := newEnv(t, envOptions{rules: rules})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	c := e.client()
	e.oidcLogin(c, "/")
	signedIn := sessionCookies(e, c)
	for _, mode := range []struct {
		name    string
		cookies [][2]string
		want    map[string]string // identity headers gatehouse sets, canonical name → value
	}{
		{"anonymous public", nil, map[string]string{}},
		{"signed in", signedIn, map[string]string{"X-Forwarded-User": "alice", "X-Forwarded-Email": "alice@example.com", "X-Forwarded-Groups": "dev"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			eachSpoof(t, hygieneHeaders, func(t *testing.T, sp spelling, lines [][2]string) {
				resp := rawGet(t, addr, "/public/x", append(append([][2]string{}, mode.cookies...), lines...))
				if rejectedByParser(sp, resp) {
					return
				}
				got := echoed(t, resp)
				for k, vs := range got.Headers {
					if isIdentityHeader(k) && strings.Contains(strings.Join(vs, ","), marker) {
						t.Fatalf("client value reached the upstream as %s: %q", k, vs)
					}
				}
				for k, want := range mode.want {
					if vs := got.Headers[k]; len(vs) != 1 || vs[0] != want {
						t.Fatalf("upstream got %s = %q, want %q", k, vs, want)
					}
				}
				if _, ok := mode.want["X-Forwarded-User"]; ok && len(got.Headers["X-Gatehouse-Assertion"]) != 1 {
					t.Fatalf("signed-in upstream request has X-Gatehouse-Assertion %q, want gatehouse's one", got.Headers["X-Gatehouse-Assertion"])
				}
			})
		})
	}
}

func TestHygieneForwardAuth(t *testing.T) {
	e := newEnv(t, envOptions{trusted: "[127.0.0.1/32]"})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	c := e.client()
	e.oidcLogin(c, "/")
	forwarded := func(uri string) [][2]string {
		return [][2]string{{"X-Forwarded-Method", "GET"}, {"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "app.test"}, {"X-Forwarded-Uri", uri}}
	}
	for _, mode := range []struct {
		name       string
		cookies    [][2]string
		uri        string
		wantStatus int
		wantUser   string
	}{
		{"anonymous public", nil, "/healthz", http.StatusAccepted, ""},
		{"anonymous protected", nil, "/x", http.StatusUnauthorized, ""},
		{"signed in", sessionCookies(e, c), "/x", http.StatusAccepted, "alice"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			eachSpoof(t, hygieneHeaders, func(t *testing.T, sp spelling, lines [][2]string) {
				hdrs := append(append(forwarded(mode.uri), mode.cookies...), lines...)
				resp := rawGet(t, addr, "/oauth2/auth", append(hdrs, [2]string{"Accept", "application/json"}))
				if rejectedByParser(sp, resp) {
					return
				}
				if resp.StatusCode != mode.wantStatus {
					t.Fatalf("status %d, want %d", resp.StatusCode, mode.wantStatus)
				}
				for k, vs := range resp.Header {
					if strings.Contains(strings.Join(vs, ","), marker) {
						t.Fatalf("client value came back in the forward-auth answer as %s: %q", k, vs)
					}
				}
				user := resp.Header.Values("X-Auth-Request-User")
				switch {
				case mode.wantUser == "" && (len(user) > 0 || resp.Header.Get("X-Gatehouse-Assertion") != ""):
					t.Fatalf("anonymous answer carries identity: user %q, assertion %q", user, resp.Header.Get("X-Gatehouse-Assertion"))
				case mode.wantUser != "" && (len(user) != 1 || user[0] != mode.wantUser || len(resp.Header.Values("X-Gatehouse-Assertion")) != 1):
					t.Fatalf("X-Auth-Request-User %q (want %q), assertion %q", user, mode.wantUser, resp.Header.Values("X-Gatehouse-Assertion"))
				}
			})
		})
	}
}

// TestHygieneHopByHopCannotRemoveGatewayHeaders: a client naming gatehouse's
// headers in Connection (hop-by-hop) must not make the proxy drop them.
func TestHygieneHopByHopCannotRemoveGatewayHeaders(t *testing.T) {
	e := newEnv(t, envOptions{trusted: "[127.0.0.1/32]"})
	c := e.client()
	e.oidcLogin(c, "/")
	for _, conn := range [][]string{
		{"X-Forwarded-User, X-Gatehouse-Assertion"},
		{"x-forwarded-user, x-gatehouse-assertion, x-forwarded-email, x-forwarded-groups"},
		{"keep-alive", "X-Forwarded-User", "X-Gatehouse-Assertion"},
		{"X-Forwarded-User,X-Forwarded-Email,X-Forwarded-Preferred-Username,X-Forwarded-Groups,X-Forwarded-Roles,X-Gatehouse-Assertion"},
	} {
		t.Run(strings.Join(conn, "|"), func(t *testing.T) {
			var hdr []string
			for _, v := range conn {
				hdr = append(hdr, "Connection", v)
			}
			got := echoed(t, e.get(c, "/app", hdr...))
			if v := got.Headers["X-Forwarded-User"]; len(v) != 1 || v[0] != "alice" {
				t.Errorf("proxy: upstream X-Forwarded-User = %q, want gatehouse's alice", v)
			}
			if v := got.Headers["X-Forwarded-Email"]; len(v) != 1 || v[0] != "alice@example.com" {
				t.Errorf("proxy: upstream X-Forwarded-Email = %q", v)
			}
			if v := got.Headers["X-Gatehouse-Assertion"]; len(v) != 1 || strings.Count(v[0], ".") != 2 {
				t.Errorf("proxy: upstream X-Gatehouse-Assertion = %q, want gatehouse's JWT", v)
			}
			fa := e.get(c, "/oauth2/auth", append(hdr, "X-Forwarded-Method", "GET", "X-Forwarded-Host", "app.test", "X-Forwarded-Uri", "/x")...)
			if fa.StatusCode != http.StatusAccepted || fa.Header.Get("X-Auth-Request-User") != "alice" || fa.Header.Get("X-Gatehouse-Assertion") == "" {
				t.Errorf("forward-auth: status %d, X-Auth-Request-User %q, assertion set %v", fa.StatusCode, fa.Header.Get("X-Auth-Request-User"), fa.Header.Get("X-Gatehouse-Assertion") != "")
			}
		})
	}
}

// TestHygieneForwardingHeaders: a client that is not a trusted proxy cannot
// pass forwarding metadata to the upstream (which may log, rate-limit or
// route on it), nor make forward-auth judge another URL.
func TestHygieneForwardingHeaders(t *testing.T) {
	e := newEnv(t, envOptions{rules: "  - {name: public, prefix: /public, allow: public}\n  - {name: rest, prefix: /, allow: authenticated}\n"})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	own := map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": addr, "X-Forwarded-Proto": "http"}
	t.Run("proxy", func(t *testing.T) {
		eachSpoof(t, forwardingHeaders, func(t *testing.T, sp spelling, lines [][2]string) {
			resp := rawGet(t, addr, "/public/x", lines)
			if rejectedByParser(sp, resp) {
				return
			}
			got := echoed(t, resp)
			for k, vs := range got.Headers {
				if inList(forwardingHeaders, k) && strings.Contains(strings.Join(vs, ","), marker) {
					t.Errorf("untrusted client's value reached the upstream as %s: %q", k, vs)
				}
			}
			for k, want := range own {
				if vs := got.Headers[k]; len(vs) != 1 || vs[0] != want {
					t.Errorf("upstream got %s = %q, want gatehouse's %q", k, vs, want)
				}
			}
		})
	})
	t.Run("forward-auth", func(t *testing.T) {
		for _, h := range []string{"X-Forwarded-Uri", "X-Original-URL"} {
			for _, sp := range spellingVariants {
				t.Run(h+"/"+sp.name, func(t *testing.T) {
					target := map[string]string{"X-Forwarded-Uri": "/healthz", "X-Original-URL": "http://app.test/healthz"}[h]
					lines := [][2]string{{"X-Forwarded-Method", "GET"}, {"X-Forwarded-Host", "app.test"}}
					for _, n := range sp.names(h) {
						lines = append(lines, [2]string{n, target})
					}
					resp := rawGet(t, addr, "/oauth2/auth", append(lines, [2]string{"Accept", "application/json"}))
					if !rejectedByParser(sp, resp) && resp.StatusCode != http.StatusUnauthorized {
						t.Fatalf("status %d: an untrusted peer's %s made forward-auth judge the public %s", resp.StatusCode, h, target)
					}
				})
			}
		}
	})
}

// serveLike serves e's gateway from an http.Server configured from
// server.* as cmd/gatehouse's serve() configures it (max_header_bytes,
// read_header_timeout, read_timeout, idle_timeout); mut may shorten the
// timeouts so a test can watch them fire.
func serveLike(t *testing.T, e *env, mut func(*http.Server)) string {
	t.Helper()
	s := httptest.NewUnstartedServer(e.gw)
	s.Config.ReadHeaderTimeout = e.cfg.Server.ReadHeaderTimeout
	s.Config.ReadTimeout = e.cfg.Server.ReadTimeout
	s.Config.IdleTimeout = e.cfg.Server.IdleTimeout
	s.Config.MaxHeaderBytes = e.cfg.Server.MaxHeaderBytes
	if mut != nil {
		mut(s.Config)
	}
	s.Start()
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

func TestAbuseOversizedHeaders(t *testing.T) {
	e := newEnv(t, envOptions{})
	if got := e.cfg.Server.MaxHeaderBytes; got != 64<<10 {
		t.Fatalf("default server.max_header_bytes = %d, want 64 KiB", got)
	}
	addr := serveLike(t, e, nil)
	many := make([][2]string, 200)
	for i := range many {
		many[i] = [2]string{fmt.Sprintf("X-Pad-%d", i), strings.Repeat("p", 400)}
	}
	for _, tc := range []struct {
		name    string
		headers [][2]string
		want    int
	}{
		{"one 80 KB header", [][2]string{{"X-Big", strings.Repeat("b", 80<<10)}}, http.StatusRequestHeaderFieldsTooLarge},
		{"200 headers of 400 bytes", many, http.StatusRequestHeaderFieldsTooLarge},
		{"80 KB cookie", [][2]string{{"Cookie", "_gatehouse=" + strings.Repeat("c", 80<<10)}}, http.StatusRequestHeaderFieldsTooLarge},
		{"32 KB header under the limit", [][2]string{{"X-Big", strings.Repeat("b", 32<<10)}}, http.StatusFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if resp := rawGet(t, addr, "/app", tc.headers); resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

// cookieLines returns n Cookie lines name(i)=<size bytes>.
func cookieLines(n, size int, name func(i int) string) [][2]string {
	out := make([][2]string, n)
	for i := range out {
		out[i] = [2]string{"Cookie", name(i) + "=" + strings.Repeat("v", size)}
	}
	return out
}

func TestAbuseOversizedCookies(t *testing.T) {
	e := newEnv(t, envOptions{})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	for _, tc := range []struct {
		name    string
		cookies [][2]string
	}{
		{"40 KB session cookie", cookieLines(1, 40<<10, func(int) string { return "_gatehouse" })},
		{"12 chunks of 3.9 KB", cookieLines(12, 3900, func(i int) string { return fmt.Sprintf("_gatehouse_%d", i) })},
		{"300 foreign cookies", cookieLines(300, 100, func(i int) string { return fmt.Sprintf("junk%d", i) })},
		{"session cookie repeated 50 times", cookieLines(50, 500, func(int) string { return "_gatehouse" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if resp := rawGet(t, addr, "/app", tc.cookies); resp.StatusCode != http.StatusFound {
				t.Errorf("browser: status %d, want 302 to sign in (anonymous)", resp.StatusCode)
			}
			if resp := rawGet(t, addr, "/app", append(tc.cookies, [2]string{"Accept", "application/json"})); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("API: status %d, want 401", resp.StatusCode)
			}
		})
	}
	t.Run("5 KB login-state cookie at the callback", func(t *testing.T) {
		// 043a7187 is the first 4 bytes of SHA-256("s"): the cookie Take looks for.
		resp := rawGet(t, addr, "/oauth2/callback?code=x&state=s", cookieLines(1, 5<<10, func(int) string { return "_gatehouse_login_043a7187" }))
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
}

func TestAbuseLongRedirectAndState(t *testing.T) {
	e := newEnv(t, envOptions{trusted: "[127.0.0.1/32]"})
	long := "/" + strings.Repeat("a", 10<<10)
	for _, tc := range []struct {
		name, rd  string
		wantFinal []string // acceptable Locations after the login finishes
	}{
		{"10 KB path", long, []string{"/"}},
		{"10 KB absolute URL", "https://evil.example/" + long, []string{"/"}},
		{"10 KB encoded", url.QueryEscape(url.QueryEscape(long)), []string{"/"}},
		{"2000-byte path", "/" + strings.Repeat("b", 2000), []string{"/", "/" + strings.Repeat("b", 2000)}},
	} {
		t.Run("start/"+tc.name, func(t *testing.T) {
			c := e.client()
			start := e.get(c, "/oauth2/start?provider=idp&rd="+url.QueryEscape(tc.rd))
			if start.StatusCode == http.StatusBadRequest {
				return // refused as too long: bounded and documented
			}
			if start.StatusCode != http.StatusFound {
				t.Fatalf("start: status %d, want 302 (fallback) or 400", start.StatusCode)
			}
			cb, err := e.idp.Authorize(start.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			done := e.get(c, cb.String())
			if loc := done.Header.Get("Location"); done.StatusCode != http.StatusFound || !slices.Contains(tc.wantFinal, loc) {
				t.Fatalf("callback: status %d, Location %.80q…, want one of %.40q", done.StatusCode, loc, tc.wantFinal)
			}
		})
	}
	c := e.client()
	for _, tc := range []struct {
		name, path string
		want       int
		hdr        []string
	}{
		{"sign_in", "/oauth2/sign_in?rd=" + url.QueryEscape(long), http.StatusOK, nil},
		{"sign_out", "/oauth2/sign_out?rd=" + url.QueryEscape(long), http.StatusOK, nil},
		{"callback 10 KB state", "/oauth2/callback?code=x&state=" + strings.Repeat("s", 10<<10), http.StatusBadRequest, nil},
		{"forward-auth 10 KB uri", "/oauth2/auth?redirect=1", http.StatusFound,
			[]string{"X-Forwarded-Method", "GET", "X-Forwarded-Host", "app.test", "X-Forwarded-Uri", long}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.get(c, tc.path, tc.hdr...)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if loc := resp.Header.Get("Location"); len(loc) > 2048 {
				t.Fatalf("Location is %d bytes: the long target was not bounded", len(loc))
			}
			if b := body(t, resp); strings.Contains(b, strings.Repeat("a", 2049)) {
				t.Fatal("the page echoes the rejected 10 KB target")
			}
		})
	}
}

func TestAbuseManyParallelLogins(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	var last string
	for i := range 20 {
		resp := e.get(c, fmt.Sprintf("/oauth2/start?provider=idp&rd=/tab-%d", i))
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("start %d: status %d", i, resp.StatusCode)
		}
		last = resp.Header.Get("Location")
	}
	states, size := 0, 0
	for _, ck := range c.Jar.Cookies(mustURL(e.srv.URL)) {
		size += len(ck.Name) + len(ck.Value) + 2
		if strings.Contains(ck.Name, "_login_") {
			states++
		}
	}
	if states > 4 {
		t.Errorf("the browser holds %d login-state cookies after 20 unfinished logins, want at most 4", states)
	}
	if size > 4*4000 {
		t.Errorf("the Cookie header is %d bytes after 20 unfinished logins", size)
	}
	cb, err := e.idp.Authorize(last)
	if err != nil {
		t.Fatal(err)
	}
	if done := e.get(c, cb.String()); done.StatusCode != http.StatusFound || done.Header.Get("Location") != "/tab-19" {
		t.Fatalf("finishing the newest login: status %d, Location %q", done.StatusCode, done.Header.Get("Location"))
	}
}

func TestAbuseWebSocketWithoutSession(t *testing.T) {
	ws := wsUpstream(t)
	e := newEnv(t, envOptions{trusted: "[127.0.0.1/32]", upstreams: fmt.Sprintf("  - {path: /, url: %q}\n", ws.URL)})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	for _, tc := range []struct{ name, extra string }{
		{"bare", ""},
		{"API client", "Accept: application/json\r\n"},
		{"forged session cookie", "Cookie: _gatehouse=forged-value\r\n"},
		{"spoofed identity headers", "X-Forwarded-User: alice\r\nX-Auth-Request-User: alice\r\nX-Gatehouse-Assertion: a.b.c\r\n"},
		{"same origin", "Origin: " + e.srv.URL + "\r\n"},
		{"invalid bearer token", "Authorization: Bearer not.a.jwt\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _, _ := wsHandshake(t, addr, tc.extra)
			if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusFound {
				t.Fatalf("status %d, want 401 or 302 (never 101)", resp.StatusCode)
			}
		})
	}
	t.Run("forward-auth", func(t *testing.T) {
		resp := rawGet(t, addr, "/oauth2/auth", [][2]string{{"Upgrade", "websocket"}, {"Connection", "Upgrade"},
			{"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}, {"Sec-WebSocket-Version", "13"},
			{"X-Forwarded-Method", "GET"}, {"X-Forwarded-Host", "app.test"}, {"X-Forwarded-Uri", "/ws"}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", resp.StatusCode)
		}
	})
}

// TestAbuseSlowClients: a client that never finishes its headers, trickles
// a body, or idles on a keep-alive connection is cut off by the server's
// timeouts (shortened here; in production server.read_header_timeout,
// read_timeout and idle_timeout).
func TestAbuseSlowClients(t *testing.T) {
	e := newEnv(t, envOptions{})
	addr := serveLike(t, e, func(s *http.Server) {
		s.ReadHeaderTimeout, s.ReadTimeout, s.IdleTimeout = 300*time.Millisecond, 600*time.Millisecond, 300*time.Millisecond
	})
	for _, tc := range []struct{ name, send string }{
		{"headers never finished", "GET /app HTTP/1.1\r\nHost: " + addr + "\r\nX-Slow: a"},
		{"body trickled", "POST /oauth2/sign_in HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\nusername=c"},
		{"idle keep-alive", "GET /ping HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tc.send); err != nil {
				t.Fatal(err)
			}
			// The server must close the connection long before this deadline.
			if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			_, err = io.Copy(io.Discard, bufio.NewReader(conn))
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the server kept the slow connection open for 10 s")
			}
		})
	}
}
