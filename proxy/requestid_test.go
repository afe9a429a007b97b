package proxy_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var generatedID = regexp.MustCompile(`^[0-9a-f]{16}$`)

// Every request gets an ID, echoed to the client, passed to the upstream and
// written in its access line. A client's own X-Request-Id counts only from a
// trusted proxy, and only if it is a short token.
func TestRequestIDs(t *testing.T) {
	tests := []struct {
		name    string
		trusted string
		sent    string
		keep    bool
	}{
		{name: "none sent", trusted: "[]"},
		{name: "untrusted peer's ID replaced", trusted: "[]", sent: "abc-123"},
		{name: "trusted proxy's ID kept", trusted: "[127.0.0.1/32]", sent: "abc-123", keep: true},
		{name: "trusted proxy's bad ID replaced", trusted: "[127.0.0.1/32]", sent: "bad id\"with quotes"},
		{name: "trusted proxy's long ID replaced", trusted: "[127.0.0.1/32]", sent: strings.Repeat("a", 65)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{trusted: tc.trusted, rules: "  - {name: all, prefix: /, allow: public}\n"})
			c := e.client()
			var hdr []string
			if tc.sent != "" {
				hdr = []string{"X-Request-Id", tc.sent}
			}
			seen := map[string]bool{}
			for range 3 {
				resp := e.get(c, "/page", hdr...)
				id := resp.Header.Get("X-Request-Id")
				if got := http.Header(echoed(t, resp).Headers).Get("X-Request-Id"); got != id {
					t.Fatalf("upstream got X-Request-Id %q, client %q", got, id)
				}
				switch {
				case tc.keep && id != tc.sent:
					t.Fatalf("trusted proxy's ID %q replaced by %q", tc.sent, id)
				case !tc.keep && !generatedID.MatchString(id):
					t.Fatalf("generated ID %q is not 16 hex digits", id)
				case !tc.keep && seen[id]:
					t.Fatalf("ID %q given twice", id)
				}
				seen[id] = true
				if !strings.Contains(e.logs.String(), `"request_id":"`+id+`"`) {
					t.Fatalf("no access line with request_id %q in:\n%s", id, e.logs.String())
				}
			}
		})
	}
}

func TestRequestIDsAreUniqueAcrossGateways(t *testing.T) {
	ids := map[string]bool{}
	for range 2 {
		e := newEnv(t, envOptions{rules: "  - {name: all, prefix: /, allow: public}\n"})
		id := e.get(e.client(), "/page").Header.Get("X-Request-Id")
		if ids[id] {
			t.Fatalf("two gateways both started at ID %q", id)
		}
		ids[id] = true
	}
}
