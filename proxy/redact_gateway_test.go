package proxy_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestSecretsInRedirectTargetsStayOutOfTheLogs drives the three ways a
// secret in a URL's query reached the log: the sign-in page's rd (which
// carries the URL an anonymous visitor asked for) in the access line, the
// refused-redirect warning from forward-auth's ?redirect=1 (built from
// X-Forwarded-Uri), and the same warning for a sign-in form whose rd points
// off-site.
func TestSecretsInRedirectTargetsStayOutOfTheLogs(t *testing.T) {
	e := newEnv(t, envOptions{trusted: "[127.0.0.1/32]"})
	c := e.client()

	resp := e.get(c, "/reports?access_token=SECRETONE&page=2", "Accept", "text/html")
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.Contains(loc, "SECRETONE") {
		// The test means something only while rd carries the query.
		t.Fatalf("anonymous request: status %d, Location %q; want a redirect to sign in whose rd keeps the query", resp.StatusCode, loc)
	}
	if s := e.get(c, loc).StatusCode; s != http.StatusOK {
		t.Fatalf("sign-in page: status %d", s)
	}

	resp = traefik(e, c, "GET", "app.test", "/r?id_token=SECRETTWO", "Accept", "text/html")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("forward-auth ?redirect=1: status %d", resp.StatusCode)
	}

	e.localLogin(e.client(), "carol", carolPassword, "https://evil.test/cb?code=SECRETTHREE#access_token=SECRETFOUR")

	logs := e.logs.String()
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "SECRET") {
			t.Errorf("a secret reached the log: %s", line)
		}
	}
	// Still logged, with the secrets' names and without their values.
	for _, want := range []string{`"rejected redirect target"`, `id_token=REDACTED`, `code=REDACTED`, `access_token%3DREDACTED`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s", want)
		}
	}
}
