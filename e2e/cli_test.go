package e2e

import (
	"bytes"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
)

func TestDemoLoginOverHTTP(t *testing.T) {
	addr := freeAddr(t)
	p := start(t, addr, "demo", "--listen", addr)
	var password string
	deadline := time.After(30 * time.Second)
	for password == "" {
		select {
		case line := <-p.lines:
			if v, ok := strings.CutPrefix(line, "password: "); ok {
				password = v
			}
		case <-deadline:
			t.Fatal("demo printed no password line")
		}
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(p.url("/oauth2/sign_in?rd=/hello"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(readAll(t, resp.Body))
	resp.Body.Close()
	if m == nil {
		t.Fatal("no CSRF token on the demo sign-in page")
	}
	form := url.Values{"csrf": {m[1]}, "username": {"demo"}, "password": {password}, "rd": {"/hello"}}
	req, _ := http.NewRequest(http.MethodPost, p.url("/oauth2/sign_in"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(t, resp.Body)
	resp.Body.Close()
	if resp.Request.URL.Path != "/hello" || !strings.Contains(page, "Signed in as <strong>demo</strong>") || !strings.Contains(page, "demo@example.com") {
		t.Fatalf("after demo login: %s %.400s", resp.Request.URL, page)
	}
}

func TestCheckCommand(t *testing.T) {
	out, err := exec.Command(gatehouseBin, "check", "--config", "../config.example.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("check config.example.yaml: %v\n%s", err, out)
	}
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", "server:\n  listen: nowhere\nsession:\n  secrets: [short]\n  bogus: 1\n")
	cmd := exec.Command(gatehouseBin, "check", "--config", bad)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("check of a bad file: %v, want exit 1", err)
	}
	for _, want := range []string{bad + ":2: server.listen:", bad + ":4: session.secrets[0]:", bad + ":5: session.bogus:"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	if strings.Contains(stdout.String(), "short") {
		t.Error("check printed the secret's value")
	}

	// A rule that can never match is a warning, not an error.
	writeFile(t, dir, "u.yaml", "users:\n  - {username: u, password: \""+localHash+"\"}\n")
	shadowed := writeFile(t, dir, "shadowed.yaml", `session: {secrets: ["0123456789abcdef0123456789abcdef"]}
providers: [{id: local, type: local, users_file: u.yaml}]
rules:
  - {name: everyone, prefix: /, allow: authenticated}
  - {name: admin, prefix: /admin, deny: true}
`)
	out, err = exec.Command(gatehouseBin, "check", "--config", shadowed).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "warning: "+shadowed+":5: rules[1]: rule \"admin\" can never match") {
		t.Fatalf("check of a shadowed rule: %v\n%s", err, out)
	}

	// DESIGN.md's example TOTP secret (80 bits) loads, with a warning.
	writeFile(t, dir, "u.yaml", "users:\n  - {username: u, password: \""+localHash+"\", totp_secret: JBSWY3DPEHPK3PXP}\n")
	out, err = exec.Command(gatehouseBin, "check", "--config", shadowed).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ":2: users[0].totp_secret: secret is 80 bits, below RFC 4226's 128-bit minimum") {
		t.Fatalf("check of an 80-bit TOTP secret: %v\n%s", err, out)
	}
}

func TestExplainCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "g.yaml", `
session: {secrets: ["0123456789abcdef0123456789abcdef"]}
providers: [{id: local, type: local, users_file: u.yaml}]
roles:
  admin: {emails: [root@example.com]}
rules:
  - {name: health, path: /healthz, allow: public}
  - {name: admin, prefix: /admin, methods: [GET, POST], allow: {roles: [admin]}}
  - {name: everyone, prefix: /, allow: authenticated}
`)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--email", "root@example.com", "GET", "https://app.example.com/admin/x"}, []string{"decision: allow", `rules[1] "admin"`}},
		{[]string{"--email", "bob@example.com", "GET", "https://app.example.com/admin/x"}, []string{"decision: forbid", `rules[1] "admin"`}},
		{[]string{"--anonymous", "GET", "https://app.example.com/healthz"}, []string{"decision: allow", `rules[0] "health"`}},
		{[]string{"--anonymous", "GET", "https://app.example.com/x"}, []string{"decision: login", `rules[2] "everyone"`}},
		{[]string{"--email", "bob@example.com", "DELETE", "https://app.example.com/admin/x"}, []string{"decision: allow", `rules[2] "everyone"`}},
	} {
		args := append([]string{"explain", "--config", cfg}, tc.args...)
		out, err := exec.Command(gatehouseBin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", tc.args, err, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
}

func TestConfigReloadOnFileChange(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	rules := func(allow string) string {
		return localConfig(addr, "  - {name: status-page, path: /status, allow: "+allow+"}\n")
	}
	writeFile(t, dir, "users.yaml", "users:\n  - {username: u, password: \""+localHash+"\"}\n")
	cfg := writeFile(t, dir, "g.yaml", rules("public"))
	p := start(t, addr, "serve", "--config", cfg, "--watch-interval", "20ms")
	status := func() int {
		req, _ := http.NewRequest(http.MethodGet, p.url("/status"), nil)
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := status(); s != http.StatusBadGateway { // public: proxied to a dead upstream
		t.Fatalf("before reload: %d, want 502", s)
	}
	// A broken config is refused and the old one keeps serving.
	writeFile(t, dir, "g.yaml", rules("nobody-knows-this"))
	waitFor(t, func() bool { return strings.Contains(p.logs(), "config reload rejected") })
	if s := status(); s != http.StatusBadGateway {
		t.Fatalf("after a broken config: %d, want the old rules (502)", s)
	}
	writeFile(t, dir, "g.yaml", rules("authenticated"))
	waitFor(t, func() bool { return status() == http.StatusUnauthorized })
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met before the deadline")
		}
		<-tick.C
	}
}

func TestRemovedLocalUserIsSignedOut(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	const hash = localHash
	users := func(names ...string) string {
		out := "users:\n"
		for _, n := range names {
			out += "  - {username: " + n + ", password: \"" + hash + "\"}\n"
		}
		return out
	}
	writeFile(t, dir, "users.yaml", users("ursula", "victor"))
	cfg := writeFile(t, dir, "g.yaml", localConfig(addr, "  - {name: all, prefix: /, allow: authenticated}\n"))
	p := start(t, addr, "serve", "--config", cfg, "--watch-interval", "20ms")
	c := localSignIn(t, p, "ursula", localPassword)
	status := func() int { return apiStatus(t, c, p, "/") }
	if s := status(); s != http.StatusBadGateway { // signed in: proxied to the dead upstream
		t.Fatalf("signed in: %d", s)
	}
	writeFile(t, dir, "users.yaml", users("victor"))
	waitFor(t, func() bool { return status() == http.StatusUnauthorized })
}

func TestSessionsListAndRevoke(t *testing.T) {
	redisAddr := testpeers.Redis(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	writeFile(t, dir, "users.yaml", "users:\n  - {username: ursula, email: Ursula@example.com, password: \""+localHash+"\"}\n")
	cfg := writeFile(t, dir, "g.yaml", `
server: {listen: "`+addr+`"}
session:
  secrets: ["0123456789abcdef0123456789abcdef"]
  cookie: {secure: false}
  store: redis
  redis: {url: "redis://`+redisAddr+`/0"}
providers: [{id: local, type: local, users_file: users.yaml}]
upstreams: [{path: /, url: "http://127.0.0.1:1"}]
rules: [{name: all, prefix: /, allow: authenticated}]
`)
	p := start(t, addr, "serve", "--config", cfg)
	c := localSignIn(t, p, "ursula", localPassword)
	status := func() int { return apiStatus(t, c, p, "/") }
	if s := status(); s != http.StatusBadGateway {
		t.Fatalf("signed in: %d", s)
	}
	out, err := exec.Command(gatehouseBin, "sessions", "list", "--config", cfg, "--email", "ursula@EXAMPLE.com").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "1 session(s) of ursula@EXAMPLE.com") {
		t.Fatalf("sessions list: %v\n%s", err, out)
	}
	out, err = exec.Command(gatehouseBin, "sessions", "revoke", "--config", cfg, "--provider", "local", "--subject", "ursula").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "revoked 1 session(s)") {
		t.Fatalf("sessions revoke: %v\n%s", err, out)
	}
	if s := status(); s != http.StatusUnauthorized {
		t.Fatalf("after revoke: %d, want 401", s)
	}
}
