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
	cfg := writeFile(t, dir, "g.yaml", localConfig(addr,
		"  - {name: admin, prefix: /admin, allow: {groups: [admins]}}\n  - {name: all, prefix: /, allow: authenticated}\n"))
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
