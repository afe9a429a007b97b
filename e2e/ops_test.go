package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/echo"
	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
)

const (
	opsSessionSecret = "ops-session-secret-5b0c1f9e7a2d4c68b3e1f0a9d8c7b6a5"
	opsWrongPassword = "wrong-password-8d1e3c"
	// Values a client puts in a proxied request's query string.
	opsQueryToken = "SECRET-access-token-4e2a9b"
	opsQueryCode  = "XYZ-authorization-code-71c3"
)

var opsCSRFRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// secretsSeen records every value that must never reach gatehouse's logs,
// as the browser sees them: cookies sent and set, and the OAuth parameters
// (code, state, nonce) of the requests it makes. It wraps a transport.
type secretsSeen struct {
	base  http.RoundTripper
	mu    sync.Mutex
	vals  map[string]string // value → what it was first seen as, for messages
	kinds map[string]bool   // every "what" seen, with a value long enough
}

func (s *secretsSeen) add(what, v string) {
	if len(v) < 8 { // deleted cookies, flags: too short to be a credential
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vals == nil {
		s.vals, s.kinds = map[string]string{}, map[string]bool{}
	}
	s.kinds[what] = true
	if _, ok := s.vals[v]; !ok {
		s.vals[v] = what
	}
}

func (s *secretsSeen) RoundTrip(req *http.Request) (*http.Response, error) {
	for _, c := range req.Cookies() {
		s.add("cookie "+c.Name+" sent to "+req.URL.Host, c.Value)
	}
	q := req.URL.Query()
	for _, k := range []string{"code", "state", "nonce", "access_token", "id_token", "csrf"} {
		for _, v := range q[k] {
			s.add(k+" in "+req.URL.Path, v)
		}
	}
	resp, err := s.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	for _, c := range resp.Cookies() {
		s.add("cookie "+c.Name+" set by "+req.URL.Host, c.Value)
	}
	return resp, nil
}

// opsBrowser is a cookie-keeping client of one gatehouse whose transport
// records the secrets it sees.
type opsBrowser struct {
	t    *testing.T
	c    *http.Client
	gh   *process
	seen *secretsSeen
}

// echo decodes the echo upstream's answer, failing unless it is a 200.
func (b *opsBrowser) echo(resp *http.Response) echo.Request {
	b.t.Helper()
	defer resp.Body.Close()
	body := readAll(b.t, resp.Body)
	var got echo.Request
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil {
		b.t.Fatalf("%s: status %d, want the echo upstream's 200: %.300s", resp.Request.URL.Path, resp.StatusCode, body)
	}
	return got
}

func (b *opsBrowser) get(path string) *http.Response {
	b.t.Helper()
	resp, err := b.c.Get(b.gh.url(path))
	if err != nil {
		b.t.Fatal(err)
	}
	return resp
}

// csrf GETs one of gatehouse's form pages and returns its CSRF token.
func (b *opsBrowser) csrf(path string) string {
	b.t.Helper()
	resp := b.get(path)
	body := readAll(b.t, resp.Body)
	resp.Body.Close()
	m := opsCSRFRE.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("GET %s: %d, no CSRF token on the page: %.300s", path, resp.StatusCode, body)
	}
	b.seen.add("CSRF token of "+path, m[1])
	return m[1]
}

// post submits a form of page (whose CSRF token it adds) as a browser would.
func (b *opsBrowser) post(page, action string, form url.Values) *http.Response {
	b.t.Helper()
	form.Set("csrf", b.csrf(page))
	req, _ := http.NewRequest(http.MethodPost, b.gh.url(action), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://"+b.gh.addr)
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp
}

// signOut confirms the sign-out page and checks the session is gone.
func (b *opsBrowser) signOut() {
	b.t.Helper()
	resp := b.post("/oauth2/sign_out", "/oauth2/sign_out", url.Values{})
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/oauth2/sign_in" {
		b.t.Fatalf("sign out ended with %d at %s", resp.StatusCode, resp.Request.URL)
	}
	req, _ := http.NewRequest(http.MethodGet, b.gh.url("/after-sign-out"), nil)
	req.Header.Set("Accept", "application/json")
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		b.t.Fatalf("after sign-out: %d, want 401", resp.StatusCode)
	}
}

// TestLogsHoldNoSecrets runs every flow with debug logging — failed and
// successful local logins, proxied requests, an OIDC login with token
// refreshes, sign-outs, tokens in a query string and hostile redirect
// targets — then checks that gatehouse's stderr holds none of the secrets
// the browser saw and that no input made a log line of its own.
func TestLogsHoldNoSecrets(t *testing.T) {
	upstream := httptest.NewServer(echo.Handler())
	t.Cleanup(upstream.Close)
	addr := freeAddr(t)
	op := testpeers.OIDCProvider(t, "http://"+addr+"/oauth2/callback")
	dir := t.TempDir()
	writeFile(t, dir, "users.yaml", "users:\n  - {username: carol, email: carol@example.com, password: \""+localHash+"\"}\n")
	writeFile(t, dir, "client-secret", op.ClientSecret+"\n")
	// refresh_before longer than the OP's token lifetime: every request
	// with an OIDC session refreshes its tokens.
	cfg := writeFile(t, dir, "gatehouse.yaml", fmt.Sprintf(`
server:
  listen: %q
  public_url: "http://%s"
session:
  secrets: ["${OPS_SESSION_SECRET}"]
  cookie: {secure: false}
  refresh_before: 24h
providers:
  - id: op
    type: oidc
    name: Example OP
    issuer: %q
    client_id: %q
    client_secret_file: client-secret
    scopes: [openid, email, profile, offline_access]
  - {id: local, type: local, users_file: users.yaml, totp: "off"}
upstreams:
  - {path: /, url: %q, pass_access_token: true, pass_id_token: true}
rules:
  - {name: everyone, prefix: /, allow: authenticated}
log: {level: debug}
`, addr, addr, op.Issuer, op.ClientID, upstream.URL))
	t.Setenv("OPS_SESSION_SECRET", opsSessionSecret)
	gh := start(t, addr, "serve", "--config", cfg)

	seen := &secretsSeen{base: http.DefaultTransport}
	jar, _ := cookiejar.New(nil)
	b := &opsBrowser{t: t, c: &http.Client{Jar: jar, Transport: seen}, gh: gh, seen: seen}

	// Local: a wrong password, then the right one.
	const signIn = "/oauth2/sign_in?rd=%2Flocal"
	resp := b.post(signIn, "/oauth2/sign_in", url.Values{"rd": {"/local"}, "username": {"carol"}, "password": {opsWrongPassword}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d, want 401", resp.StatusCode)
	}
	got := b.echo(b.post(signIn, "/oauth2/sign_in", url.Values{"rd": {"/local"}, "username": {"carol"}, "password": {localPassword}}))
	if u := got.Headers["X-Forwarded-User"]; len(u) != 1 || u[0] != "carol" {
		t.Fatalf("after local login the upstream saw X-Forwarded-User %v", u)
	}
	b.echo(b.get("/local/page"))
	got = b.echo(b.get("/tokens-in-query?access_token=" + opsQueryToken + "&code=" + opsQueryCode))
	if !strings.Contains(got.Query, opsQueryToken) {
		t.Fatalf("the query did not reach the upstream: %q", got.Query)
	}
	b.signOut()

	// OIDC: login at the OP, then requests that refresh the tokens.
	resp = b.get("/oauth2/start?provider=op&rd=%2Foidc")
	resp.Body.Close()
	got = b.echo(op.Login(t, b.c, resp.Request.URL.String(), op.Alice.Username, op.Alice.Password))
	accessTokens := map[string]bool{}
	for i := 0; ; i++ {
		at, idt := got.Headers["X-Forwarded-Access-Token"], got.Headers["Authorization"]
		if len(at) != 1 || len(idt) != 1 || !strings.HasPrefix(idt[0], "Bearer ") {
			t.Fatalf("request %d: the upstream got no tokens (access %d, authorization %d)", i, len(at), len(idt))
		}
		seen.add("access token passed upstream", at[0])
		seen.add("ID token passed upstream", strings.TrimPrefix(idt[0], "Bearer "))
		accessTokens[at[0]] = true
		if i == 3 {
			break
		}
		got = b.echo(b.get(fmt.Sprintf("/oidc/%d", i)))
	}
	if len(accessTokens) < 2 {
		t.Fatal("the tokens were never refreshed: every request carried the same access token")
	}
	for _, ck := range jar.Cookies(&url.URL{Scheme: "http", Host: addr, Path: "/"}) {
		seen.add("cookie "+ck.Name+" in the jar", ck.Value)
	}
	b.signOut()

	// Hostile redirect targets and paths trying to start a log line.
	hostile := "/x\r\n" + `{"level":"ERROR","msg":"forged"}`
	rd := url.QueryEscape(hostile)
	for _, path := range []string{
		"/oauth2/sign_in?rd=" + rd,
		"/oauth2/start?provider=op&rd=" + rd,
		"/oauth2/sign_out?rd=" + rd,
		"/x%0d%0a%7B%22level%22:%22ERROR%22,%22msg%22:%22forged%22%7D",
	} {
		b.get(path).Body.Close()
	}
	resp = b.post("/oauth2/sign_in", "/oauth2/sign_in", url.Values{"rd": {hostile}, "username": {"carol\r\n" + `{"msg":"forged"}`}, "password": {opsWrongPassword}})
	resp.Body.Close()

	gh.stop(t) // every line is written once the process has exited
	logs := gh.logs()

	seen.add("the session secret", opsSessionSecret)
	seen.add("the OP's client secret", op.ClientSecret)
	seen.add("the local password", localPassword)
	seen.add("the wrong local password", opsWrongPassword)
	seen.add("the OP password", op.Alice.Password)
	for _, what := range []string{"code in /oauth2/callback", "state in /oauth2/callback", "access token passed upstream",
		"ID token passed upstream", "cookie _gatehouse in the jar", "access_token in /tokens-in-query", "code in /tokens-in-query"} {
		if !seen.saw(what) {
			t.Errorf("the test never saw the %s", what)
		}
	}
	seen.mu.Lock()
	defer seen.mu.Unlock()
	for v, what := range seen.vals {
		if strings.Contains(logs, v) {
			t.Errorf("gatehouse's log contains %s", what)
		}
	}
	if strings.Contains(logs, "eyJ") {
		t.Error(`gatehouse's log contains something that looks like a JWT ("eyJ")`)
	}

	lines := strings.Split(strings.TrimRight(logs, "\n"), "\n")
	sawQueryRequest := false
	for i, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("stderr line %d is not one JSON object (%v): %.200q", i+1, err, line)
			continue
		}
		if rec["msg"] == "forged" {
			t.Errorf("stderr line %d was forged by a request: %.200q", i+1, line)
		}
		if rec["path"] == "/tokens-in-query" {
			sawQueryRequest = true
		}
	}
	if !sawQueryRequest || len(lines) < 20 {
		t.Errorf("the log looks incomplete (%d lines; the tokens-in-query request logged: %v)", len(lines), sawQueryRequest)
	}
}

func (s *secretsSeen) saw(what string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kinds[what]
}

// TestSIGTERMDrainsInFlightRequests holds requests at the upstream, sends
// SIGTERM, and checks that gatehouse stops taking new work, lets the held
// requests finish with 200 once the upstream answers, and exits 0.
func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	const inFlight = 5
	arrived := make(chan string, inFlight)
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.URL.Path
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "done "+r.URL.Path)
	}))
	t.Cleanup(upstream.Close)

	dir := t.TempDir()
	addr := freeAddr(t)
	writeFile(t, dir, "users.yaml", "users:\n  - {username: carol, password: \""+localHash+"\"}\n")
	cfg := writeFile(t, dir, "gatehouse.yaml", fmt.Sprintf(`
server: {listen: %q, shutdown_timeout: 30s}
session: {secrets: ["%s"], cookie: {secure: false}}
providers: [{id: local, type: local, users_file: users.yaml}]
upstreams: [{path: /, url: %q}]
rules: [{name: open, prefix: /, allow: public}]
`, addr, opsSessionSecret, upstream.URL))
	gh := start(t, addr, "serve", "--config", cfg)
	// Cleanups run last-registered first: on failure the held requests are
	// released before start's cleanup waits for the process and before
	// upstream.Close waits for its handlers.
	t.Cleanup(releaseAll)

	type result struct {
		path, body string
		status     int
		err        error
	}
	results := make(chan result, inFlight)
	client := &http.Client{Timeout: 60 * time.Second}
	for i := range inFlight {
		path := fmt.Sprintf("/slow/%d", i)
		go func() {
			resp, err := client.Get(gh.url(path))
			if err != nil {
				results <- result{path: path, err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			results <- result{path: path, body: string(b), status: resp.StatusCode, err: err}
		}()
	}
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for range inFlight {
		select {
		case <-arrived:
		case r := <-results:
			t.Fatalf("%s finished before the upstream answered: %d %v", r.path, r.status, r.err)
		case <-deadline.C:
			t.Fatal("the requests did not all reach the upstream")
		}
	}

	if err := gh.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go gh.stopOnce.Do(func() { exited <- gh.cmd.Wait() })

	// New work is turned away: /ready fails or nothing listens any more.
	probe := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	waitFor(t, func() bool {
		resp, err := probe.Get(gh.url("/ready"))
		if err != nil {
			return true
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	select {
	case r := <-results:
		t.Fatalf("%s finished before the upstream answered: %d %v", r.path, r.status, r.err)
	case err := <-exited:
		t.Fatalf("gatehouse exited (%v) with %d requests in flight", err, inFlight)
	default:
	}

	releaseAll()
	for range inFlight {
		select {
		case r := <-results:
			if r.err != nil || r.status != http.StatusOK || r.body != "done "+r.path {
				t.Errorf("%s: status %d, body %q, error %v; want 200 from the upstream", r.path, r.status, r.body, r.err)
			}
		case <-deadline.C:
			t.Fatal("in-flight requests did not complete after the upstream answered")
		}
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("gatehouse exited with %v, want exit code 0", err)
		}
	case <-deadline.C:
		_ = gh.cmd.Process.Kill()
		<-exited
		t.Fatal("gatehouse did not exit after draining")
	}
	if !strings.Contains(gh.logs(), "shutting down") {
		t.Error("no shutdown line in the log")
	}
}
