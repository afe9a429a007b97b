package e2e

import (
	"bufio"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/echo"
	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
)

// rulesSetup starts an echo upstream, the real OpenID provider (whose users
// carry a "groups" claim when the "groups" scope is asked for) and gatehouse
// with group and role rules: /admin/ for the group admins, /ops/ for the role
// admin (derived from the group admins), everything else for anyone signed in.
func rulesSetup(t *testing.T) (*process, *testpeers.OP) {
	t.Helper()
	return startWithOP(t, `    scopes: [openid, email, profile, groups]
    groups_claim: groups
`, `roles:
  admin: {groups: [admins]}
upstreams:
  - {path: /, url: "UPSTREAM"}
rules:
  - {name: admin, prefix: /admin/, allow: {groups: [admins]}}
  - {name: ops, prefix: /ops/, allow: {roles: [admin]}}
  - {name: everyone, prefix: /, allow: authenticated}
`, nil)
}

// signInButtonRE finds the provider's button (a link) on the sign-in page.
var signInButtonRE = regexp.MustCompile(`<a\b[^>]*\bhref="([^"]+)"[^>]*>\s*Sign in with Example OP\s*</a>`)

// rulesLogin signs u in the way a browser does from an anonymous visit to
// path: gatehouse's redirect to its sign-in page, the provider's button, the
// OP's login form, and back to path. It returns the browser and the response
// to path after the login.
func rulesLogin(t *testing.T, gh *process, op *testpeers.OP, u testpeers.OPUser, path string) (*http.Client, *http.Response) {
	t.Helper()
	c := browser()
	req, _ := http.NewRequest(http.MethodGet, gh.url(path), nil)
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(t, resp.Body)
	resp.Body.Close()
	m := signInButtonRE.FindStringSubmatch(page)
	if resp.Request.URL.Path != "/oauth2/sign_in" || m == nil {
		t.Fatalf("GET %s as a browser: expected the sign-in page with the provider's button, got %s: %.300s", path, resp.Request.URL, page)
	}
	button, err := resp.Request.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	if resp, err = c.Get(button.String()); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	final := op.Login(t, c, resp.Request.URL.String(), u.Username, u.Password)
	if final.Request.URL.RequestURI() != path {
		final.Body.Close()
		t.Fatalf("%s's login ended at %s, want back at %s", u.Username, final.Request.URL, path)
	}
	return c, final
}

// rulesCheck is what a case expects of a response beyond its status.
type rulesCheck func(t *testing.T, resp *http.Response, body string)

// upstreamSaw wants the echo upstream's answer: the path it received and
// the identity headers gatehouse set ("" = header absent or empty).
func upstreamSaw(path, user, groups, roles string) rulesCheck {
	return func(t *testing.T, resp *http.Response, body string) {
		t.Helper()
		var got echo.Request
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("not the echo upstream's answer (%v): %.300s", err, body)
		}
		h := http.Header(got.Headers)
		for _, c := range []struct{ name, got, want string }{
			{"path", got.RawPath, path},
			{"X-Forwarded-User", strings.Join(h.Values("X-Forwarded-User"), ","), user},
			{"X-Forwarded-Groups", strings.Join(h.Values("X-Forwarded-Groups"), ","), groups},
			{"X-Forwarded-Roles", strings.Join(h.Values("X-Forwarded-Roles"), ","), roles},
		} {
			if c.got != c.want {
				t.Errorf("upstream got %s %q, want %q", c.name, c.got, c.want)
			}
		}
	}
}

// errorPage wants gatehouse's HTML error page, not the upstream's.
func errorPage(status int) rulesCheck {
	return func(t *testing.T, resp *http.Response, body string) {
		t.Helper()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("Content-Type %q, want an HTML page", ct)
		}
		if !strings.Contains(strings.ToLower(body), "<html") || !strings.Contains(body, strconv.Itoa(status)) ||
			strings.Contains(body, "X-Forwarded") {
			t.Errorf("not gatehouse's %d page: %.400s", status, body)
		}
	}
}

// jsonError wants {"error": "...", "status": N}; a 401 also carries a Bearer
// WWW-Authenticate challenge, a 403 none.
func jsonError(status int) rulesCheck {
	return func(t *testing.T, resp *http.Response, body string) {
		t.Helper()
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q, want JSON", ct)
		}
		var e struct {
			Error  string `json:"error"`
			Status int    `json:"status"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Status != status || e.Error == "" {
			t.Errorf("body %q (%v), want {\"error\": ..., \"status\": %d}", body, err, status)
		}
		challenge := resp.Header.Get("WWW-Authenticate")
		if status == http.StatusUnauthorized && !strings.HasPrefix(challenge, "Bearer ") {
			t.Errorf("WWW-Authenticate %q, want a Bearer challenge", challenge)
		}
		if status != http.StatusUnauthorized && challenge != "" {
			t.Errorf("WWW-Authenticate %q on a %d", challenge, status)
		}
	}
}

// toSignIn wants a redirect to the sign-in page that remembers rd.
func toSignIn(rd string) rulesCheck {
	return func(t *testing.T, resp *http.Response, body string) {
		t.Helper()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("no Location: %v", err)
		}
		if loc.Path != "/oauth2/sign_in" || loc.Query().Get("rd") != rd {
			t.Errorf("Location %s, want /oauth2/sign_in?rd=%s", loc, url.QueryEscape(rd))
		}
	}
}

// TestRulesWithRealProviderGroups: the groups the OpenID provider puts in its
// tokens decide who passes the rules. Alice (admins, dev) reaches /admin/ and
// /ops/ (role admin from the group admins); Carol (dev) is forbidden there
// but reaches the rest; anonymous browsers are sent to sign in, anonymous API
// clients get a JSON 401. Every case is one audit line naming the rule.
func TestRulesWithRealProviderGroups(t *testing.T) {
	gh, op := rulesSetup(t)

	// Both log in from a page their rules decide: Alice lands on it, Carol
	// on the 403 for it.
	alice, resp := rulesLogin(t, gh, op, op.Alice, "/admin/?tab=1")
	body := readAll(t, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("alice after login at /admin/?tab=1: %d, want 200: %.300s", resp.StatusCode, body)
	}
	aliceGroups := strings.Join(op.Alice.Groups, ",")
	upstreamSaw("/admin/", op.Alice.Username, aliceGroups, "admin")(t, resp, body)
	carol, resp := rulesLogin(t, gh, op, op.Carol, "/admin/?tab=1")
	body = readAll(t, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("carol after login at /admin/?tab=1: %d, want 403: %.300s", resp.StatusCode, body)
	}
	errorPage(http.StatusForbidden)(t, resp, body)

	const acceptHTML, acceptJSON = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", "application/json"
	subjects := map[*http.Client]string{alice: op.Alice.ID, carol: op.Carol.ID}
	tests := []struct {
		name   string
		client *http.Client // nil: anonymous
		accept string
		path   string
		header http.Header
		want   int
		rule   string
		check  rulesCheck
	}{
		{"alice reaches /admin/", alice, "", "/admin/", nil, 200, "admin",
			upstreamSaw("/admin/", op.Alice.Username, aliceGroups, "admin")},
		{"alice reaches /admin (the prefix is segment-aware)", alice, "", "/admin", nil, 200, "admin",
			upstreamSaw("/admin", op.Alice.Username, aliceGroups, "admin")},
		{"alice reaches /admin/users", alice, "", "/admin/users?page=2", nil, 200, "admin",
			upstreamSaw("/admin/users", op.Alice.Username, aliceGroups, "admin")},
		{"carol forbidden at /admin/, browser", carol, acceptHTML, "/admin/", nil, 403, "admin", errorPage(403)},
		{"carol forbidden at /admin/, API client", carol, acceptJSON, "/admin/", nil, 403, "admin", jsonError(403)},
		{"carol forbidden at /admin/settings", carol, acceptJSON, "/admin/settings", nil, 403, "admin", jsonError(403)},
		{"carol forbidden at /admin", carol, acceptJSON, "/admin", nil, 403, "admin", jsonError(403)},
		{"carol's spoofed groups and roles change nothing", carol, acceptJSON, "/admin/",
			http.Header{"X-Forwarded-Groups": {"admins"}, "X-Forwarded-Roles": {"admin"}}, 403, "admin", jsonError(403)},
		{"carol reaches /administrator (another segment)", carol, "", "/administrator", nil, 200, "everyone",
			upstreamSaw("/administrator", op.Carol.Username, "dev", "")},
		{"carol reaches /dev/ without roles, spoofed ones dropped", carol, "", "/dev/",
			http.Header{"X-Forwarded-Roles": {"admin"}, "X-Forwarded-Groups": {"admins"}}, 200, "everyone",
			upstreamSaw("/dev/", op.Carol.Username, "dev", "")},
		{"alice has the role admin at /ops/", alice, "", "/ops/deploy", nil, 200, "ops",
			upstreamSaw("/ops/deploy", op.Alice.Username, aliceGroups, "admin")},
		{"carol lacks the role admin at /ops/, browser", carol, acceptHTML, "/ops/deploy", nil, 403, "ops", errorPage(403)},
		{"carol lacks the role admin at /ops/, API client", carol, acceptJSON, "/ops/", nil, 403, "ops", jsonError(403)},
		{"anonymous browser sent to sign in from /admin/", nil, acceptHTML, "/admin/x?y=1", nil, 302, "admin", toSignIn("/admin/x?y=1")},
		{"anonymous browser sent to sign in from /ops/", nil, acceptHTML, "/ops/", nil, 302, "ops", toSignIn("/ops/")},
		{"anonymous API client gets 401 at /admin/", nil, acceptJSON, "/admin/", nil, 401, "admin", jsonError(401)},
		{"anonymous XHR gets 401 at /ops/", nil, "", "/ops/",
			http.Header{"X-Requested-With": {"XMLHttpRequest"}}, 401, "ops", jsonError(401)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &http.Client{}
			if tc.client != nil {
				c.Jar = tc.client.Jar
			}
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			req, _ := http.NewRequest(http.MethodGet, gh.url(tc.path), nil)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("GET %s: %d, want %d: %.300s", tc.path, resp.StatusCode, tc.want, body)
			}
			tc.check(t, resp, body)
			auditLine(t, gh, tc.path, tc.rule, subjects[tc.client], tc.want)
		})
	}
}

// auditLine waits for gatehouse's access/audit log line of the request for
// path with status and checks it names rule and subject and keeps the query
// out of the path.
func auditLine(t *testing.T, gh *process, path, rule, subject string, status int) {
	t.Helper()
	p, _, _ := strings.Cut(path, "?")
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		sc := bufio.NewScanner(strings.NewReader(gh.logs()))
		for sc.Scan() {
			var l struct {
				Msg, Path, Rule, Subject string
				Status                   int
			}
			if json.Unmarshal(sc.Bytes(), &l) != nil || l.Msg != "request" || l.Path != p || l.Status != status {
				continue
			}
			if l.Rule == rule && l.Subject == subject {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit line for %s with status %d, rule %q, subject %q in:\n%s", p, status, rule, subject, gh.logs())
		}
		<-tick.C
	}
}
