package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/identity"
)

func TestNewRejects(t *testing.T) {
	roles := map[string]config.RoleSpec{"admin": {Groups: []string{"ops"}}}
	pub := config.Allow{Public: true}
	tests := []struct {
		name string
		cfg  config.Config
		want string // substring of the error
	}{
		{"unknown default", config.Config{Default: "allow"}, "default"},
		{"no allow and no deny", config.Config{Rules: []config.Rule{{Name: "x", Prefix: "/"}}}, "allow is missing"},
		{"deny and allow", config.Config{Rules: []config.Rule{{Name: "x", Deny: true, Allow: pub}}}, "exclusive"},
		{"bad regex", config.Config{Rules: []config.Rule{{Regex: "(", Allow: pub}}}, "regex"},
		{"lower-case method", config.Config{Rules: []config.Rule{{Methods: []string{"get"}, Allow: pub}}}, "methods"},
		{"prefix not normalised", config.Config{Rules: []config.Rule{{Prefix: "/a//b", Allow: pub}}}, "not normalised"},
		{"prefix relative", config.Config{Rules: []config.Rule{{Prefix: "admin", Allow: pub}}}, "prefix"},
		{"path with dots", config.Config{Rules: []config.Rule{{Path: "/a/../b", Allow: pub}}}, "not normalised"},
		{"path lower-case escape", config.Config{Rules: []config.Rule{{Path: "/a%2fb", Allow: pub}}}, "not normalised"},
		{"undefined role", config.Config{Roles: roles, Rules: []config.Rule{{Allow: config.Allow{Roles: []string{"admn"}}}}}, `role "admn"`},
		{"public with criteria", config.Config{Rules: []config.Rule{{Allow: config.Allow{Public: true, Groups: []string{"g"}}}}}, "public"},
		{"authenticated with criteria", config.Config{Rules: []config.Rule{{Allow: config.Allow{Authenticated: true, Groups: []string{"g"}}}}}, "authenticated"},
		{"empty group", config.Config{Rules: []config.Rule{{Allow: config.Allow{Groups: []string{""}}}}}, "empty"},
		{"bad email", config.Config{Rules: []config.Rule{{Allow: config.Allow{Emails: []string{"alice"}}}}}, "not an email"},
		{"domain with @", config.Config{Rules: []config.Rule{{Allow: config.Allow{Domains: []string{"@example.com"}}}}}, "bare domain"},
		{"bad host", config.Config{Rules: []config.Rule{{Host: "a.*.example.com", Allow: pub}}}, "host"},
		{"bad host port", config.Config{Rules: []config.Rule{{Host: "a.example.com:x", Allow: pub}}}, "port"},
		{"empty role", config.Config{Roles: map[string]config.RoleSpec{"r": {}}}, "roles.r"},
		{"upstream path not normalised", config.Config{Upstreams: []config.Upstream{{Path: "/a//b"}}}, `upstreams[0]: path "/a//b" is not normalised (write "/a/b")`},
		{"upstream path escaped unreserved", config.Config{Upstreams: []config.Upstream{{Path: "/", URL: "http://a"}, {Path: "/%7Euser/"}}}, "upstreams[1]: path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(&tc.cfg)
			if err == nil {
				t.Fatalf("New = %v, want error", p)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := New(&config.Config{Default: "nope", Rules: []config.Rule{
		{Name: "one", Regex: "("},
		{Name: "two", Prefix: "/x"},
	}})
	for _, want := range []string{"default", `rules[0] (one)`, `rules[1] (two)`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}

func TestNewAccepts(t *testing.T) {
	p := mustNew(t, &config.Config{Rules: []config.Rule{
		{Prefix: "/", Allow: config.Allow{Authenticated: true}},
		{Prefix: "/admin/", Deny: true},
		{Host: "[::1]:8080", Allow: config.Allow{Public: true}},
		{Host: "*.Example.COM.", Allow: config.Allow{Public: true}},
		{Prefix: "/mfa", Allow: config.Allow{MFA: true}}, // authenticated + MFA
	}})
	if p.Len() != 5 {
		t.Fatalf("Len = %d", p.Len())
	}
	d := p.Decide(nil, Request{Method: "GET", Host: "h", Path: "/x"})
	if d.Rule != "#0" || d.Result != Login {
		t.Errorf("unnamed rule: %+v, want Login by #0", d)
	}
	if _, ok := p.Rule(-1); ok {
		t.Error("Rule(-1) ok")
	}
	if _, ok := p.Rule(5); ok {
		t.Error("Rule(5) ok")
	}
	mfaOnly := mustNew(t, &config.Config{Rules: []config.Rule{{Name: "m", Allow: config.Allow{MFA: true}}}})
	req := Request{Method: "GET", Host: "h", Path: "/"}
	for _, tc := range []struct {
		id   *identity.Identity
		want Result
	}{{nil, Login}, {&identity.Identity{}, Forbid}, {&identity.Identity{MFA: true}, Allow}} {
		if d := mfaOnly.Decide(tc.id, req); d.Result != tc.want {
			t.Errorf("mfa-only rule, %+v: %+v, want %v", tc.id, d, tc.want)
		}
	}
}

func TestRuleReturnsCopy(t *testing.T) {
	cfg := &config.Config{Rules: []config.Rule{{Name: "a", Methods: []string{"GET"}, Allow: config.Allow{Groups: []string{"g"}}}}}
	p := mustNew(t, cfg)
	cfg.Rules[0].Allow.Groups[0] = "changed" // the caller's config does not leak in
	r, _ := p.Rule(0)
	r.Methods[0] = "POST" // nor does a returned copy
	if d := p.Decide(&identity.Identity{Groups: []string{"g"}}, Request{Method: "GET", Host: "h", Path: "/"}); d.Result != Allow {
		t.Errorf("got %+v, want Allow", d)
	}
}

// BenchmarkDecide walks a 20-rule policy to a late match, as a busy gateway would.
func BenchmarkDecide(b *testing.B) { benchmarkDecide(b, 16) }

// BenchmarkDecide100 is the yardstick: 100 rules, a late match
// (target ≤ 2 µs and ≤ 2 allocations per call).
func BenchmarkDecide100(b *testing.B) { benchmarkDecide(b, 96) }

func benchmarkDecide(b *testing.B, hostRules int) {
	cfg := &config.Config{
		Roles: map[string]config.RoleSpec{
			"admin": {Emails: []string{"alice@example.com"}, Groups: []string{"ops"}},
			"dev":   {Domains: []string{"example.com"}},
		},
		Default: "deny",
	}
	for i := range hostRules {
		cfg.Rules = append(cfg.Rules, config.Rule{
			Name:    fmt.Sprintf("app%d", i),
			Host:    fmt.Sprintf("app%d.example.com", i),
			Prefix:  fmt.Sprintf("/svc%d", i),
			Methods: []string{"GET", "POST"},
			Allow:   config.Allow{Groups: []string{"dev"}},
		})
	}
	cfg.Rules = append(cfg.Rules,
		config.Rule{Name: "api", Regex: `^/api/v[0-9]+/`, Allow: config.Allow{Groups: []string{"dev"}}},
		config.Rule{Name: "wild", Host: "*.internal.example.com", Allow: config.Allow{Roles: []string{"dev"}}},
		config.Rule{Name: "admin", Prefix: "/admin", Allow: config.Allow{Roles: []string{"admin"}, MFA: true}},
		config.Rule{Name: "everyone", Prefix: "/", Allow: config.Allow{Authenticated: true}},
	)
	p := mustNew(b, cfg)
	id := &identity.Identity{Provider: "corp", Subject: "1", Email: "alice@example.com", EmailVerified: true, Groups: []string{"dev"}, MFA: true}
	req := Request{Method: "GET", Host: "app.example.com", Path: "/admin/users/42"}
	if d := p.Decide(id, req); d.Result != Allow || d.Rule != "admin" {
		b.Fatalf("Decide = %+v", d)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = p.Decide(id, req)
		}
	})
}
