package e2e

import (
	"net/http"
	"testing"
)

// A local user taken out of a group in the users file loses what the group
// gave at the next request, without signing out: the session takes the
// file's groups (SECURITY.md: a demoted administrator must not keep access
// for the rest of a week-long session).
func TestLocalUserGroupChangeTakesEffect(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	users := func(groups string) string {
		return "users:\n  - {username: ursula, groups: " + groups + ", password: \"" + localHash + "\"}\n"
	}
	writeFile(t, dir, "users.yaml", users("[admins, staff]"))
	cfg := writeFile(t, dir, "g.yaml", `
server: {listen: "`+addr+`"}
session: {secrets: ["0123456789abcdef0123456789abcdef"], cookie: {secure: false}}
providers: [{id: local, type: local, users_file: users.yaml}]
upstreams: [{path: /, url: "http://127.0.0.1:1"}]
rules:
  - {name: admin, prefix: /admin, allow: {groups: [admins]}}
  - {name: all, prefix: /, allow: authenticated}
`)
	p := start(t, addr, "serve", "--config", cfg, "--watch-interval", "20ms")
	c := localSignIn(t, p, "ursula", localPassword)
	admin := func() int { return apiStatus(t, c, p, "/admin/x") }
	if s := admin(); s != http.StatusBadGateway { // allowed: proxied to the dead upstream
		t.Fatalf("admin before the change: %d", s)
	}
	writeFile(t, dir, "users.yaml", users("[staff]"))
	waitFor(t, func() bool { return admin() == http.StatusForbidden })
	if s := apiStatus(t, c, p, "/"); s != http.StatusBadGateway {
		t.Fatalf("still signed in for the rest: %d", s)
	}
}
