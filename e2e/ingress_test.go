package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/echo"
	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
)

// ingress is nginx or Caddy started from the committed example in deploy/,
// with its placeholder addresses replaced.
type ingress struct {
	name string
	addr string
}

// startIngress renders deploy/<example> with real addresses and runs it.
func startIngress(t *testing.T, kind, ingressAddr, gatehouseAddr, appAddr string) *ingress {
	t.Helper()
	dir := t.TempDir()
	var src, bin string
	var args []string
	switch kind {
	case "nginx":
		src = "../deploy/nginx/nginx.conf"
		bin = os.Getenv("GATEHOUSE_NGINX_BIN")
		args = []string{"-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", "stderr", "-g", "daemon off;"}
	case "caddy":
		src = "../deploy/caddy/Caddyfile"
		bin = os.Getenv("GATEHOUSE_CADDY_BIN")
		args = []string{"run", "--config", filepath.Join(dir, "nginx.conf"), "--adapter", "caddyfile"}
	}
	if bin == "" {
		t.Fatalf("%s binary unknown: run `eval \"$(scripts/peers.sh)\"` (GATEHOUSE_%s_BIN)", kind, strings.ToUpper(kind))
	}
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	_, ingressPort, _ := net.SplitHostPort(ingressAddr)
	conf := strings.NewReplacer(
		"127.0.0.1:8000", ingressAddr,
		":8000 {", ":"+ingressPort+" {",
		"127.0.0.1:4180", gatehouseAddr,
		"127.0.0.1:8080", appAddr,
	).Replace(string(raw))
	writeFile(t, dir, "nginx.conf", conf)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir, "HOME="+dir)
	var out lockedWriter
	var buf strings.Builder
	out.b, out.mu = &buf, new(syncMutex)
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so nginx's workers are stopped with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			out.mu.Lock()
			t.Logf("%s output:\n%s", kind, buf.String())
			out.mu.Unlock()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if c, err := net.Dial("tcp", ingressAddr); err == nil {
			c.Close()
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not start", kind)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return &ingress{name: kind, addr: ingressAddr}
}

func (i *ingress) url(path string) string { return "http://" + i.addr + path }

// forwardAuthSetup: app (echo), a real OpenID provider, gatehouse in
// forward-auth mode (no upstreams), and the ingress in front.
func forwardAuthSetup(t *testing.T, kind string, sessionYAML ...string) (*ingress, *testpeers.OP, *process) {
	t.Helper()
	app := httptest.NewServer(echo.Handler())
	t.Cleanup(app.Close)
	ingressAddr, ghAddr := freeAddr(t), freeAddr(t)
	op := testpeers.OIDCProvider(t, "http://"+ingressAddr+"/oauth2/callback")
	dir := t.TempDir()
	writeFile(t, dir, "secret", op.ClientSecret)
	cfg := writeFile(t, dir, "gatehouse.yaml", fmt.Sprintf(`
server:
  listen: %q
  public_url: "http://%s"
  trusted_proxies: [127.0.0.1/32]
session:
  secrets: ["%s"]
  cookie: {secure: false}
%sproviders:
  - {id: op, type: oidc, name: Example OP, issuer: %q, client_id: %q, client_secret_file: secret}
rules:
  - {name: admin, prefix: /admin, allow: {emails: [carol@other.example]}}
  - {name: everyone, prefix: /, allow: authenticated}
`, ghAddr, ingressAddr, e2eSecret, strings.Join(sessionYAML, ""), op.Issuer, op.ClientID))
	gh := start(t, ghAddr, "serve", "--config", cfg)
	ing := startIngress(t, kind, ingressAddr, ghAddr, strings.TrimPrefix(app.URL, "http://"))
	return ing, op, gh
}

func TestForwardAuthBehindRealIngress(t *testing.T) {
	for _, kind := range []string{"nginx", "caddy"} {
		t.Run(kind, func(t *testing.T) {
			ing, op, _ := forwardAuthSetup(t, kind)
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar}

			// An anonymous browser ends at the sign-in page, with the
			// original URL (query included) remembered.
			req, _ := http.NewRequest(http.MethodGet, ing.url("/reports/x?a=1&b=2"), nil)
			req.Header.Set("Accept", "text/html")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			page := readAll(t, resp.Body)
			resp.Body.Close()
			if resp.Request.URL.Path != "/oauth2/sign_in" || !strings.Contains(page, "Sign in with Example OP") {
				t.Fatalf("anonymous browser ended at %s: %.200s", resp.Request.URL, page)
			}
			rd := resp.Request.URL.Query().Get("rd")
			if rd != ing.url("/reports/x?a=1&b=2") {
				t.Fatalf("rd = %q", rd)
			}

			// An anonymous API client gets a 401, never a redirect.
			api, _ := http.NewRequest(http.MethodGet, ing.url("/api"), nil)
			api.Header.Set("Accept", "application/json")
			noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			if r, err := noFollow.Do(api); err != nil || r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("anonymous API client: %v %v", r.StatusCode, err)
			} else {
				r.Body.Close()
			}

			// Log in at the provider; back at the original URL through the ingress.
			resp, err = c.Get(ing.url("/oauth2/start?provider=op&rd=" + url.QueryEscape(rd)))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			final := op.Login(t, c, resp.Request.URL.String(), op.Alice.Username, op.Alice.Password)
			var got echo.Request
			err = json.NewDecoder(final.Body).Decode(&got)
			final.Body.Close()
			if err != nil || got.Path != "/reports/x" || got.Query != "a=1&b=2" {
				t.Fatalf("after login: %v %+v", err, got)
			}

			// The app gets the identity; a client's own copies never pass.
			req, _ = http.NewRequest(http.MethodGet, ing.url("/whoami"), nil)
			req.Header.Set("Accept", "application/json")
			req.Header.Set("X-Auth-Request-Email", "evil@x.test")
			req.Header.Set("X-Forwarded-Email", "evil@x.test")
			req.Header.Set("X-Gatehouse-Assertion", "forged")
			resp, err = c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got = echo.Request{}
			_ = json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
			if v := got.Headers["X-Auth-Request-Email"]; len(v) != 1 || v[0] != op.Alice.Email {
				t.Fatalf("X-Auth-Request-Email at the app: %v (headers %v)", v, got.Headers)
			}
			for k, v := range got.Headers {
				for _, s := range v {
					if strings.Contains(s, "evil@") || s == "forged" {
						t.Fatalf("client-sent %s reached the app", k)
					}
				}
			}
			if v := got.Headers["X-Gatehouse-Assertion"]; len(v) != 1 || strings.Count(v[0], ".") != 2 {
				t.Fatalf("assertion at the app: %v", v)
			}

			// A rule that denies: 403 through the ingress.
			req, _ = http.NewRequest(http.MethodGet, ing.url("/admin/panel"), nil)
			resp, err = c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("/admin for alice: %d, want 403", resp.StatusCode)
			}
		})
	}
}

// TestForwardAuthUntrustedPeer calls gatehouse directly from 127.0.0.2, an
// address outside trusted_proxies: its forwarded headers are ignored.
func TestForwardAuthUntrustedPeer(t *testing.T) {
	_, op, gh := forwardAuthSetup(t, "nginx")
	_ = op
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	c := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodGet, gh.url("/oauth2/auth"), nil)
	req.Header.Set("X-Forwarded-Uri", "/public")
	req.Header.Set("X-Forwarded-Host", "app.example.com")
	req.Header.Set("X-Forwarded-Method", "GET")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Fatalf("untrusted forwarded headers: %d, want a non-2xx", resp.StatusCode)
	}
	gh.stop(t)
	if !strings.Contains(gh.logs(), "forward-auth from an untrusted peer") {
		t.Fatal("the ignored headers were not logged")
	}
}

// With cookie sessions the sliding idle timeout (like refreshed tokens and a
// rotated secret) lives in a cookie re-issued on the 202; the shipped
// nginx.conf must hand it to the browser, or an active user is signed out
// idle_timeout after signing in. With a 10s idle timeout the cookie is
// re-issued once it is a second or two old (a tenth of the timeout, counted
// in whole seconds); requests are repeated until then, within a deadline.
func TestForwardAuthReissuedCookieReachesBrowserThroughNginx(t *testing.T) {
	ing, op, _ := forwardAuthSetup(t, "nginx", "  idle_timeout: 10s\n")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(ing.url("/oauth2/start?provider=op&rd=" + url.QueryEscape(ing.url("/x"))))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	final := op.Login(t, c, resp.Request.URL.String(), op.Alice.Username, op.Alice.Password)
	final.Body.Close()
	if final.StatusCode != http.StatusOK {
		t.Fatalf("after login: %d", final.StatusCode)
	}
	deadline := time.Now().Add(8 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := c.Get(ing.url("/x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("signed-in request: %d", resp.StatusCode)
		}
		for _, sc := range resp.Header.Values("Set-Cookie") {
			if strings.HasPrefix(sc, "_gatehouse=") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no re-issued session cookie reached the browser through nginx")
		}
		<-tick.C
	}
}
