package proxy_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
)

func TestReloadUnderLoadLosesNoRequest(t *testing.T) {
	e := newEnv(t, envOptions{rules: "  - {name: first, prefix: /, allow: public}\n"})
	second := *e.cfg
	second.Rules = []config.Rule{
		{Name: "deny-admin", Prefix: "/admin", Deny: true},
		{Name: "second", Prefix: "/", Allow: config.Allow{Public: true}},
	}
	configs := []*config.Config{&second, e.cfg}

	const workers, perWorker = 4, 50
	var wg sync.WaitGroup
	failures := make(chan int, workers*perWorker)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.client()
			for i := 0; i < perWorker; i++ {
				resp, err := c.Get(e.url("/x"))
				if err != nil {
					failures <- -1
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failures <- resp.StatusCode
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		if err := e.gw.Reload(configs[i%2]); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Errorf("a request failed during reloads: %d", f)
	}
	// The last reload took effect.
	if err := e.gw.Reload(&second); err != nil {
		t.Fatal(err)
	}
	if resp := e.get(e.client(), "/admin/x"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("after reload: %d, want 403", resp.StatusCode)
	}
}

// Roles and identity headers are derived once per session and remembered
// (deriveCache); a reload that changes the role definitions must still take
// effect on the very next request of an existing session.
func TestReloadRederivesRolesOfExistingSessions(t *testing.T) {
	e := newEnv(t, envOptions{
		trusted: "[127.0.0.1/32]",
		rules:   "  - {name: ops, prefix: /ops, allow: {roles: [ops]}}\n  - {name: all, prefix: /, allow: authenticated}\n",
		extra:   "roles:\n  ops: {groups: [dev]}\n",
	})
	c := e.client()
	e.oidcLogin(c, "/")
	ask := func() *http.Response {
		return traefik(e, c, "GET", "app.test", "/ops/x")
	}
	for range 2 { // the second answer comes from the remembered derivation
		resp := ask()
		if resp.StatusCode != http.StatusAccepted || resp.Header.Get("X-Auth-Request-Roles") != "ops" || resp.Header.Get("X-Auth-Request-Groups") != "dev" {
			t.Fatalf("before reload: %d roles %q groups %q", resp.StatusCode, resp.Header.Get("X-Auth-Request-Roles"), resp.Header.Get("X-Auth-Request-Groups"))
		}
	}
	next := *e.cfg
	next.Roles = map[string]config.RoleSpec{"ops": {Groups: []string{"sre"}}, "devs": {Groups: []string{"dev"}}}
	if err := e.gw.Reload(&next); err != nil {
		t.Fatal(err)
	}
	resp := ask()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("after reload removed the role: %d, want 403", resp.StatusCode)
	}
	resp = traefik(e, c, "GET", "app.test", "/other")
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("X-Auth-Request-Roles") != "devs" {
		t.Fatalf("after reload: %d roles %q, want devs", resp.StatusCode, resp.Header.Get("X-Auth-Request-Roles"))
	}
}

// A reload that changes restart-only settings (here the cookie name and the
// prefix) keeps their running values everywhere, so the gateway stays
// consistent with its session store and routes: gatehouse's cookie is still
// kept from the upstream, and sign-in is still where redirects point. The
// same file's rules take effect, and the log names the keys that wait.
func TestReloadKeepsRestartOnlySettings(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	e.oidcLogin(c, "/")
	next := *e.cfg
	next.Session.Cookie.Name = "_renamed"
	next.Server.Prefix = "/auth"
	next.Rules = append([]config.Rule{{Name: "deny-admin", Prefix: "/admin", Deny: true}}, e.cfg.Rules...)
	if err := e.gw.Reload(&next); err != nil {
		t.Fatal(err)
	}

	resp := e.get(c, "/x")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signed-in request after the reload: %d", resp.StatusCode)
	}
	for _, line := range echoed(t, resp).Headers["Cookie"] {
		if strings.Contains(line, "_gatehouse") {
			t.Fatalf("the upstream received gatehouse's session cookie: %q", line)
		}
	}
	if resp := e.get(c, "/admin/x"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the reloaded rule: %d, want 403", resp.StatusCode)
	}
	anon := e.client()
	resp = e.get(anon, "/x", "Accept", "text/html")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || loc.Path != "/oauth2/sign_in" {
		t.Fatalf("anonymous: %d to %q, want 302 to the running prefix's /oauth2/sign_in", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := e.get(anon, loc.RequestURI()); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in page: %d", resp.StatusCode)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "need a restart") || !strings.Contains(logs, `"server.prefix"`) || !strings.Contains(logs, `"session"`) {
		t.Fatalf("the log does not name the keys waiting for a restart:\n%s", logs)
	}
}
