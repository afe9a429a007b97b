package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/echo"
	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
)

const e2eSecret = "e2e-secret-0123456789abcdef0123456789abcdef"

// startWithOP starts an echo upstream, the real test OpenID provider and
// gatehouse with the OP as provider "op" ("Example OP"). opExtra is more
// YAML lines for that provider entry (indented 4 spaces); rest is the config
// after the providers key's first entry: more providers, roles, rules. Its
// "UPSTREAM" is replaced by the echo upstream's URL; extraFiles are written
// beside the config.
func startWithOP(t *testing.T, opExtra, rest string, extraFiles map[string]string) (*process, *testpeers.OP) {
	t.Helper()
	upstream := httptest.NewServer(echo.Handler())
	t.Cleanup(upstream.Close)
	addr := freeAddr(t)
	op := testpeers.OIDCProvider(t, "http://"+addr+"/oauth2/callback")
	dir := t.TempDir()
	for name, content := range extraFiles {
		writeFile(t, dir, name, content)
	}
	writeFile(t, dir, "client-secret", op.ClientSecret+"\n")
	cfg := writeFile(t, dir, "gatehouse.yaml", fmt.Sprintf(`
server:
  listen: %q
  public_url: "http://%s"
session:
  secrets: ["${E2E_SECRET}"]
  cookie: {secure: false}
providers:
  - id: op
    type: oidc
    name: Example OP
    issuer: %q
    client_id: %q
    client_secret_file: client-secret
`, addr, addr, op.Issuer, op.ClientID)+opExtra+strings.ReplaceAll(rest, "UPSTREAM", upstream.URL))
	t.Setenv("E2E_SECRET", e2eSecret)
	return start(t, addr, "serve", "--config", cfg), op
}

// oidcSetup is gatehouse with the OP, in front of an echo upstream.
func oidcSetup(t *testing.T) (*process, *testpeers.OP) {
	return startWithOP(t, "", `upstreams:
  - {path: /, url: "UPSTREAM"}
rules:
  - {name: health, path: /healthz, allow: public}
  - {name: everyone, prefix: /, allow: authenticated}
log: {level: debug}
`, nil)
}

func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

func TestLoginThroughRealOIDCProvider(t *testing.T) {
	gh, op := oidcSetup(t)
	c := browser()

	// A browser asks for a protected page and lands on the sign-in page.
	req, _ := http.NewRequest(http.MethodGet, gh.url("/reports/q3?year=2026"), nil)
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(t, resp.Body)
	resp.Body.Close()
	if resp.Request.URL.Path != "/oauth2/sign_in" || !strings.Contains(page, "Sign in with Example OP") {
		t.Fatalf("expected the sign-in page, got %s: %.300s", resp.Request.URL, page)
	}

	// The button starts the login; the OP's form is filled in; the browser
	// ends at the page it first asked for, with the OP user's identity.
	startURL := gh.url("/oauth2/start?provider=op&rd=" + "%2Freports%2Fq3%3Fyear%3D2026")
	resp, err = c.Get(startURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	final := op.Login(t, c, resp.Request.URL.String(), op.Alice.Username, op.Alice.Password)
	defer final.Body.Close()
	if final.StatusCode != http.StatusOK || final.Request.URL.Path != "/reports/q3" {
		t.Fatalf("after login: %d at %s", final.StatusCode, final.Request.URL)
	}

	// Now send spoofed identity headers: they never reach the upstream.
	req, _ = http.NewRequest(http.MethodGet, gh.url("/reports/q3?year=2026"), nil)
	req.Header.Set("X-Forwarded-Email", "evil@x.test")
	req.Header["X_Forwarded_Email"] = []string{"evil@x.test"}
	req.Header["x-forwarded-email"] = []string{"evil@x.test"}
	req.Header.Set("X-Forwarded-User", "root")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got echo.Request
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if v := got.Headers["X-Forwarded-Email"]; len(v) != 1 || v[0] != op.Alice.Email {
		t.Fatalf("X-Forwarded-Email = %v, want [%s]", v, op.Alice.Email)
	}
	if v := got.Headers["X-Forwarded-User"]; len(v) != 1 || v[0] != op.Alice.Username {
		t.Fatalf("X-Forwarded-User = %v", v)
	}
	if got.Query != "year=2026" {
		t.Fatalf("query %q", got.Query)
	}
	for k, v := range got.Headers {
		if strings.Contains(strings.Join(v, ","), "evil@") {
			t.Fatalf("spoofed header reached the upstream: %s: %v", k, v)
		}
	}

	// Nothing secret in the logs.
	gh.stop(t)
	logs := gh.logs()
	for _, secret := range []string{op.ClientSecret, e2eSecret, op.Alice.Password} {
		if strings.Contains(logs, secret) {
			t.Fatal("a secret appears in gatehouse's logs")
		}
	}
}

func TestUnverifiedEmailIsNotPassedOn(t *testing.T) {
	gh, op := oidcSetup(t)
	c := browser()
	resp, err := c.Get(gh.url("/oauth2/start?provider=op&rd=/me"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	final := op.Login(t, c, resp.Request.URL.String(), op.Bob.Username, op.Bob.Password)
	defer final.Body.Close()
	var got echo.Request
	if err := json.NewDecoder(final.Body).Decode(&got); err != nil {
		t.Fatalf("decode: %v (status %d)", err, final.StatusCode)
	}
	if v := got.Headers["X-Forwarded-Email"]; len(v) != 0 {
		t.Fatalf("unverified email passed on: %v", v)
	}
	if v := got.Headers["X-Forwarded-User"]; len(v) != 1 || v[0] != op.Bob.Username {
		t.Fatalf("X-Forwarded-User = %v", v)
	}
}

func TestWrongPasswordAtProviderGivesNoSession(t *testing.T) {
	gh, op := oidcSetup(t)
	c := browser()
	resp, err := c.Get(gh.url("/oauth2/start?provider=op&rd=/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := op.TryLogin(c, resp.Request.URL.String(), op.Alice.Username, "wrong"); err == nil {
		t.Fatal("login with a wrong password succeeded")
	}
	req, _ := http.NewRequest(http.MethodGet, gh.url("/"), nil)
	req.Header.Set("Accept", "application/json")
	r2, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", r2.StatusCode)
	}
}
