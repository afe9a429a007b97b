package policy

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/identity"
)

func mustNew(t testing.TB, cfg *config.Config) *Policy {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

var (
	alice = &identity.Identity{Provider: "corp", Subject: "1", Email: "Alice@Example.com", EmailVerified: true, Groups: []string{"dev"}}
	bob   = &identity.Identity{Provider: "github", Subject: "2", User: "bob", Groups: []string{"ops"}}
	mallo = &identity.Identity{Provider: "corp", Subject: "3", Email: "root@example.com", EmailVerified: false, Roles: []string{"admin"}}
	carol = &identity.Identity{Provider: "local", Subject: "4", User: "Carol", MFA: true}
)

func testConfig() *config.Config {
	return &config.Config{
		Roles: map[string]config.RoleSpec{
			"admin":   {Emails: []string{"alice@example.com", "root@example.com"}},
			"ops":     {Groups: []string{"ops"}},
			"staff":   {Domains: []string{"EXAMPLE.com"}},
			"carols":  {Users: []string{"carol"}},
			"githubs": {Providers: []string{"github"}},
		},
		Rules: []config.Rule{
			{Name: "health", Path: "/healthz", Allow: config.Allow{Public: true}},                                               // 0
			{Name: "blocked", Prefix: "/internal", Deny: true},                                                                  // 1
			{Name: "admin", Prefix: "/admin/", Methods: []string{"GET", "POST"}, Allow: config.Allow{Roles: []string{"admin"}}}, // 2
			{Name: "api", Regex: `^/api/v[0-9]+/`, Allow: config.Allow{Groups: []string{"dev"}}},                                // 3
			{Name: "secure-admin", Host: "*.admin.example5.com", Allow: config.Allow{Authenticated: true, MFA: true}},           // 4
			{Name: "bypass", Host: "*.example5.com", Allow: config.Allow{Public: true}},                                         // 5
			{Name: "port", Host: "app.example.com:8443", Allow: config.Allow{Public: true}},                                     // 6
			{Name: "reports", Path: "/reports", Methods: []string{"GET"}, Allow: config.Allow{Public: true}},                    // 7
			{Name: "public", Prefix: "/public", Allow: config.Allow{Public: true}},                                              // 8
			{Name: "byemail", Prefix: "/mail", Allow: config.Allow{Emails: []string{"ALICE@example.com"}}},                      // 9
			{Name: "bydomain", Prefix: "/dom", Allow: config.Allow{Domains: []string{"example.com"}}},                           // 10
			{Name: "byuser", Prefix: "/user", Allow: config.Allow{Users: []string{"CAROL", "bob"}}},                             // 11
			{Name: "byprovider", Prefix: "/prov", Allow: config.Allow{Providers: []string{"github"}}},                           // 12
			{Name: "mfa", Prefix: "/mfa", Allow: config.Allow{Users: []string{"carol", "bob"}, MFA: true}},                      // 13
			{Name: "everyone", Prefix: "/app", Allow: config.Allow{Authenticated: true}},                                        // 14
		},
		Default: "deny",
	}
}

func TestDecide(t *testing.T) {
	p := mustNew(t, testConfig())
	tests := []struct {
		name      string
		id        *identity.Identity
		method    string
		host      string
		path      string
		want      Result
		wantIndex int
		reason    string // substring
	}{
		{"public exact path, anonymous", nil, "GET", "h", "/healthz", Allow, 0, `rule "health": public`},
		{"exact path is exact", nil, "GET", "h", "/healthz/", Forbid, -1, "default deny"},
		{"deny rule beats identity", alice, "GET", "h", "/internal/x", Forbid, 1, `rule "blocked": denied by rule`},
		{"deny rule anonymous", nil, "GET", "h", "/internal", Forbid, 1, "denied"},
		{"prefix with slash matches bare", alice, "GET", "h", "/admin", Allow, 2, `allowed by role "admin"`},
		{"prefix matches below", alice, "POST", "h", "/admin/users", Allow, 2, ""},
		{"prefix is segment-aware", alice, "GET", "h", "/administrator", Forbid, -1, "default deny"},
		{"prefix boundary at encoded slash", bob, "GET", "h", "/admin%2Fusers", Forbid, 2, `user is not in roles [admin]`},
		{"prefix boundary at encoded backslash", nil, "GET", "h", "/admin%5Cusers", Login, 2, "sign-in required"},
		{"role missing", bob, "GET", "h", "/admin/", Forbid, 2, `rule "admin": user is not in roles [admin]`},
		{"anonymous to criteria rule", nil, "GET", "h", "/admin/", Login, 2, `rule "admin": sign-in required`},
		{"HEAD matched by GET rule", alice, "HEAD", "h", "/admin/", Allow, 2, ""},
		{"method not listed", alice, "DELETE", "h", "/admin/x", Forbid, -1, "default deny"},
		{"lower-case method is not a wildcard", alice, "get", "h", "/admin/x", Forbid, -1, "default deny"},
		{"unverified email never earns a role", mallo, "GET", "h", "/admin/", Forbid, 2, ""},
		{"id.Roles is ignored", mallo, "GET", "h", "/admin/", Forbid, 2, ""},
		{"regex", alice, "GET", "h", "/api/v2/things", Allow, 3, `allowed by group "dev"`},
		{"regex miss", alice, "GET", "h", "/api/vx/things", Forbid, -1, ""},
		{"regex group missing", bob, "GET", "h", "/api/v1/", Forbid, 3, "user is not in groups [dev]"},
		{"A079 wildcard host, anonymous", nil, "GET", "secure.admin.example5.com", "/", Login, 4, ""},
		{"A079 host case-insensitive", nil, "GET", "secure.ADMIN.example5.com", "/", Login, 4, ""},
		{"A079 host upper-case", nil, "GET", "SECURE.ADMIN.EXAMPLE5.COM", "/", Login, 4, ""},
		{"A079 trailing dot", nil, "GET", "secure.admin.example5.com.", "/", Login, 4, ""},
		{"wildcard host with port ignored", nil, "GET", "secure.admin.example5.com:8443", "/", Login, 4, ""},
		{"wildcard needs MFA", alice, "GET", "x.admin.example5.com", "/", Forbid, 4, "multi-factor"},
		{"wildcard with MFA", carol, "GET", "x.admin.example5.com", "/", Allow, 4, `rule "secure-admin": authenticated`},
		{"wildcard not apex", nil, "GET", "admin.example5.com", "/", Allow, 5, `rule "bypass": public`},
		{"wildcard deep", nil, "GET", "a.b.example5.com", "/", Allow, 5, ""},
		{"wildcard apex no match", nil, "GET", "example5.com", "/", Forbid, -1, ""},
		{"wildcard label boundary", nil, "GET", "evilexample5.com", "/", Forbid, -1, ""},
		{"rule port required", nil, "GET", "app.example.com:8443", "/x", Allow, 6, ""},
		{"rule port absent", nil, "GET", "app.example.com", "/x", Forbid, -1, ""},
		{"rule port differs", nil, "GET", "app.example.com:443", "/x", Forbid, -1, ""},
		{"A077 GET rule HEAD", nil, "HEAD", "h", "/reports", Allow, 7, ""},
		{"A077 lower get", nil, "get", "h", "/reports", Forbid, -1, ""},
		{"A077 POST", nil, "POST", "h", "/reports", Forbid, -1, ""},
		{"A077 GETz", nil, "GETz", "h", "/reports", Forbid, -1, ""},
		{"email case-insensitive", alice, "GET", "h", "/mail", Allow, 9, "verified email"},
		{"unverified email", mallo, "GET", "h", "/mail", Forbid, 9, "user is not in emails [ALICE@example.com]"},
		{"domain", alice, "GET", "h", "/dom", Allow, 10, `email domain "example.com"`},
		{"unverified domain", mallo, "GET", "h", "/dom", Forbid, 10, ""},
		{"user case-insensitive", carol, "GET", "h", "/user", Allow, 11, "user name"},
		{"user name from User field", bob, "GET", "h", "/user", Allow, 11, ""},
		{"user name of alice is her email", alice, "GET", "h", "/user", Forbid, 11, ""},
		{"provider", bob, "GET", "h", "/prov", Allow, 12, `provider "github"`},
		{"provider miss", alice, "GET", "h", "/prov", Forbid, 12, "user is not in providers [github]"},
		{"criteria with MFA ok", carol, "GET", "h", "/mfa", Allow, 13, ""},
		{"criteria without MFA", bob, "GET", "h", "/mfa", Forbid, 13, "multi-factor"},
		{"authenticated", bob, "GET", "h", "/app/x", Allow, 14, ""},
		{"authenticated anonymous", nil, "GET", "h", "/app/x", Login, 14, ""},
		{"default deny anonymous", nil, "GET", "h", "/nothing", Forbid, -1, "no rule matched; default deny"},
		{"default deny known", alice, "GET", "h", "/nothing", Forbid, -1, "no rule matched; default deny"},
		{"unnormalised path fails closed", alice, "GET", "h", "/app?x", Forbid, -1, "invalid request path"},
		{"empty path fails closed", nil, "GET", "h", "", Forbid, -1, "invalid request path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Decide(tc.id, Request{Method: tc.method, Host: tc.host, Path: tc.path})
			if d.Result != tc.want || d.RuleIndex != tc.wantIndex {
				t.Fatalf("Decide = %v by %d (%q: %s), want %v by %d", d.Result, d.RuleIndex, d.Rule, d.Reason, tc.want, tc.wantIndex)
			}
			if !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("Reason = %q, want it to contain %q", d.Reason, tc.reason)
			}
			if tc.wantIndex >= 0 {
				r, _ := p.Rule(tc.wantIndex)
				if d.Rule != r.Name {
					t.Errorf("Rule = %q, want %q", d.Rule, r.Name)
				}
			} else if d.Rule != DefaultRuleName {
				t.Errorf("Rule = %q, want %q", d.Rule, DefaultRuleName)
			}
		})
	}
}

func TestDefaultAuthenticated(t *testing.T) {
	p := mustNew(t, &config.Config{Default: "authenticated"})
	if d := p.Decide(nil, Request{Method: "GET", Host: "h", Path: "/"}); d.Result != Login || d.RuleIndex != -1 {
		t.Errorf("anonymous: %+v, want Login by default", d)
	}
	if d := p.Decide(bob, Request{Method: "GET", Host: "h", Path: "/"}); d.Result != Allow || d.RuleIndex != -1 {
		t.Errorf("bob: %+v, want Allow by default", d)
	}
	p = mustNew(t, &config.Config{}) // "" means deny
	if d := p.Decide(bob, Request{Method: "GET", Host: "h", Path: "/"}); d.Result != Forbid {
		t.Errorf("empty default: %+v, want Forbid", d)
	}
}

func TestRegexNeverSeesQuery(t *testing.T) {
	p := mustNew(t, &config.Config{Rules: []config.Rule{
		{Name: "q", Regex: `admin=1`, Allow: config.Allow{Public: true}},
		{Name: "end", Regex: `^/report$`, Allow: config.Allow{Public: true}},
	}})
	// The adapter passes only the path (EscapedPath has no query).
	path, err := NormalizePath("/report")
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Decide(nil, Request{Method: "GET", Host: "h", Path: path}); d.RuleIndex != 1 {
		t.Errorf("got %+v, want rule 1", d)
	}
	// A path with a query smuggled in is refused, never matched.
	if d := p.Decide(nil, Request{Method: "GET", Host: "h", Path: "/report?admin=1"}); d.Result != Forbid || d.RuleIndex != -1 {
		t.Errorf("got %+v, want Forbid by default", d)
	}
	// An encoded '?' is part of the path, not a query.
	path, _ = NormalizePath("/report%3Fadmin=1")
	if d := p.Decide(nil, Request{Method: "GET", Host: "h", Path: path}); d.RuleIndex != 0 {
		t.Errorf("encoded ? : got %+v, want rule 0 (it is part of the path)", d)
	}
}

// TestPathAttacks runs SECURITY.md's path cases through NormalizePath and then
// Decide, as the adapters do.
func TestPathAttacks(t *testing.T) {
	p := mustNew(t, &config.Config{
		Roles: map[string]config.RoleSpec{"admin": {Groups: []string{"admins"}}},
		Rules: []config.Rule{
			{Name: "admin", Prefix: "/admin", Allow: config.Allow{Roles: []string{"admin"}}},
			{Name: "endpoint", Regex: `^/public/.*/endpoint$`, Allow: config.Allow{Public: true}},
			{Name: "public", Prefix: "/public", Allow: config.Allow{Public: true}},
		},
	})
	tests := []struct {
		name, in, wantPath string
		want               Result
		wantRule           int
	}{
		{"A069 %2e%2e", "/public/%2e%2e/admin", "/admin", Login, 0},
		{"A069 %2E%2E", "/public/%2E%2E/admin", "/admin", Login, 0},
		{"A069 double encoded stays public", "/public/%252e%252e/admin", "/public/%252e%252e/admin", Allow, 2},
		{"A071 //admin", "//admin", "/admin", Login, 0},
		{"A071 slashes and dots", "/public//..//admin", "/admin", Login, 0},
		{"A071 /admin//x", "/admin//x", "/admin/x", Login, 0},
		{"A071 ///admin", "///admin", "/admin", Login, 0},
		{"A073 encoded fragment", "/public/secret%23/endpoint", "/public/secret", Allow, 2},
		{"A073 control: real endpoint", "/public/secret/endpoint", "/public/secret/endpoint", Allow, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, err := NormalizePath(tc.in)
			if err != nil {
				t.Fatalf("NormalizePath(%q): %v", tc.in, err)
			}
			if path != tc.wantPath {
				t.Fatalf("NormalizePath(%q) = %q, want %q", tc.in, path, tc.wantPath)
			}
			d := p.Decide(nil, Request{Method: "GET", Host: "app.example.com", Path: path})
			if d.Result != tc.want || d.RuleIndex != tc.wantRule {
				t.Fatalf("Decide(%q) = %v by %d (%s), want %v by %d", path, d.Result, d.RuleIndex, d.Reason, tc.want, tc.wantRule)
			}
		})
	}
	// The A073 regex never matches the truncated path.
	path, _ := NormalizePath("/public/secret%23/endpoint")
	if d := p.Decide(nil, Request{Method: "GET", Host: "h", Path: path}); d.RuleIndex == 1 {
		t.Errorf("A073: the endpoint rule matched %q", path)
	}
	// A069's encoded-slash forms are refused before Decide.
	for _, in := range []string{"/public/..%2fadmin", "/public/%2f..%2f/admin", "/public/%2f%2e%2e%2f/admin"} {
		if out, err := NormalizePath(in); err == nil {
			t.Errorf("NormalizePath(%q) = %q, want ErrAmbiguousPath", in, out)
		}
	}
}

func TestRoles(t *testing.T) {
	p := mustNew(t, testConfig())
	tests := []struct {
		name string
		id   *identity.Identity
		want []string
	}{
		{"anonymous", nil, nil},
		{"email and domain, case-insensitive", alice, []string{"admin", "staff"}},
		{"group, provider", bob, []string{"githubs", "ops"}},
		{"unverified email earns nothing", mallo, nil},
		{"user name", carol, []string{"carols"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := p.Roles(tc.id)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Roles = %v, want %v", got, tc.want)
			}
		})
	}
	// Domains need exactly one '@'.
	weird := &identity.Identity{Provider: "x", Subject: "y", Email: "a@b@example.com", EmailVerified: true}
	if got := p.Roles(weird); len(got) != 0 {
		t.Errorf("Roles(a@b@example.com) = %v, want none", got)
	}
}

func TestDecideConcurrent(t *testing.T) {
	p := mustNew(t, testConfig())
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				_ = p.Decide(alice, Request{Method: "GET", Host: "x.admin.example5.com", Path: "/admin/x"})
				_ = p.Roles(bob)
			}
		}()
	}
	wg.Wait()
}

// SECURITY.md A075: many upstreams serve /ADMIN/x as /admin/x, so by default
// rule paths, prefixes and regexes ignore ASCII case; case_sensitive_paths
// restores exact matching for upstreams that are case-sensitive themselves.
func TestPathCaseFolding(t *testing.T) {
	rules := []config.Rule{
		{Name: "admin", Prefix: "/admin", Allow: config.Allow{Groups: []string{"admins"}}},
		{Name: "report", Path: "/Reports/Q1", Allow: config.Allow{Groups: []string{"admins"}}},
		{Name: "api", Regex: `^/api/v[0-9]+/`, Allow: config.Allow{Groups: []string{"admins"}}},
		{Name: "everyone", Prefix: "/", Allow: config.Allow{Authenticated: true}},
	}
	folding := mustNew(t, &config.Config{Rules: rules})
	exact := mustNew(t, &config.Config{Rules: rules, CaseSensitivePaths: true})
	for _, tc := range []struct {
		path              string
		folded, sensitive int // the rule that decides
	}{
		{"/admin/x", 0, 0},
		{"/ADMIN/x", 0, 3},
		{"/Admin", 0, 3},
		{"/admin%2Fx", 0, 0},
		{"/ADMIN%2Fx", 0, 3},
		{"/reports/q1", 1, 3},
		{"/Reports/Q1", 1, 1},
		{"/API/V2/users", 2, 3},
		{"/administrator", 3, 3},
		// Windows also drops a name's trailing dots and spaces (IIS serves
		// /admin./x as /admin/x): a path whose two forms two different
		// rules would judge is refused (-1), by default only.
		{"/admin./x", -1, 3},
		{"/ADMIN%20/x", -1, 3},
		{"/admin.%20./x", -1, 3},
		{"/Admin.", -1, 3},
		{"/admin.%2fx", -1, 3},
		{"/admin%20%5Csecret", -1, 3},
		{"/reports/q1.", -1, 3},
		{"/api./v2./users", -1, 3},
		// Both forms judged by the same rule: passes as written.
		{"/docs/Washington,_D.C.", 3, 3},
		{"/admin/x.", 0, 0},
		{"/admin.x", 3, 3},
		{"/.../admin", 3, 3},
	} {
		if d := folding.Decide(bob, Request{Method: "GET", Host: "h", Path: tc.path}); d.RuleIndex != tc.folded {
			t.Errorf("default, %s: rule %d (%s), want %d", tc.path, d.RuleIndex, d.Rule, tc.folded)
		}
		if d := exact.Decide(bob, Request{Method: "GET", Host: "h", Path: tc.path}); d.RuleIndex != tc.sensitive {
			t.Errorf("case_sensitive_paths, %s: rule %d (%s), want %d", tc.path, d.RuleIndex, d.Rule, tc.sensitive)
		}
	}
}

// SECURITY.md A055: user and group names are not unique across identity
// providers. "provider:name" in users or groups holds only for identities
// of that configured provider; a plain name holds for any provider; a
// prefix that is no provider's id is part of the name.
func TestQualifiedUsersAndGroups(t *testing.T) {
	cfg := &config.Config{
		Providers: []config.Provider{{ID: "local"}, {ID: "github"}},
		Roles: map[string]config.RoleSpec{
			"local-carol": {Users: []string{"local:carol"}},
			"github-ops":  {Groups: []string{"github:ops"}},
			"any-bob":     {Users: []string{"bob"}},
			"colon-group": {Groups: []string{"team:blue"}}, // "team" is no provider
		},
	}
	p := mustNew(t, cfg)
	for _, tc := range []struct {
		name string
		id   *identity.Identity
		want []string
	}{
		{"local carol", &identity.Identity{Provider: "local", Subject: "carol", User: "Carol"}, []string{"local-carol"}},
		{"github carol is someone else", &identity.Identity{Provider: "github", Subject: "9", User: "carol"}, nil},
		{"oidc preferred_username carol", &identity.Identity{Provider: "idp", Subject: "8", PreferredUsername: "carol"}, nil},
		{"github ops", &identity.Identity{Provider: "github", Subject: "2", Groups: []string{"ops"}}, []string{"github-ops"}},
		{"local ops is another group", &identity.Identity{Provider: "local", Subject: "x", Groups: []string{"ops"}}, nil},
		{"plain user name, any provider", &identity.Identity{Provider: "idp", Subject: "7", User: "bob"}, []string{"any-bob"}},
		{"group with a colon", &identity.Identity{Provider: "idp", Subject: "6", Groups: []string{"team:blue"}}, []string{"colon-group"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Roles(tc.id); !slices.Equal(got, tc.want) {
				t.Errorf("Roles = %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []config.RoleSpec{{Users: []string{"local:"}}, {Groups: []string{"github:"}}} {
		if _, err := New(&config.Config{Providers: cfg.Providers, Roles: map[string]config.RoleSpec{"r": bad}}); err == nil {
			t.Errorf("New accepted %+v, which names no user or group", bad)
		}
	}
}
