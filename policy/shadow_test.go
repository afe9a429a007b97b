package policy_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/policy"
)

func TestShadowed(t *testing.T) {
	pub := config.Allow{Public: true}
	for _, tc := range []struct {
		name  string
		rules []config.Rule
		want  [][2]int // {shadowed, by}
	}{
		{"catch-all first", []config.Rule{{Name: "all", Prefix: "/", Allow: pub}, {Name: "admin", Prefix: "/admin", Deny: true}}, [][2]int{{1, 0}}},
		{"no path criterion first", []config.Rule{{Name: "all", Allow: pub}, {Name: "x", Path: "/x", Deny: true}}, [][2]int{{1, 0}}},
		{"wider prefix first", []config.Rule{{Name: "a", Prefix: "/api", Allow: pub}, {Name: "b", Prefix: "/api/v1", Deny: true}, {Name: "c", Path: "/api/x", Deny: true}}, [][2]int{{1, 0}, {2, 0}}},
		{"segment boundary", []config.Rule{{Name: "a", Prefix: "/api", Allow: pub}, {Name: "b", Prefix: "/apix", Deny: true}}, nil},
		{"narrow first is fine", []config.Rule{{Name: "admin", Prefix: "/admin", Deny: true}, {Name: "all", Prefix: "/", Allow: pub}}, nil},
		{"methods subset", []config.Rule{{Name: "a", Prefix: "/", Methods: []string{"GET", "POST"}, Allow: pub}, {Name: "b", Path: "/x", Methods: []string{"GET"}, Deny: true}}, [][2]int{{1, 0}}},
		{"methods not covered", []config.Rule{{Name: "a", Prefix: "/", Methods: []string{"GET"}, Allow: pub}, {Name: "b", Path: "/x", Deny: true}}, nil},
		{"other host", []config.Rule{{Name: "a", Host: "a.example.com", Prefix: "/", Allow: pub}, {Name: "b", Path: "/x", Deny: true}}, nil},
		{"regex proves nothing", []config.Rule{{Name: "a", Regex: ".*", Allow: pub}, {Name: "b", Path: "/x", Deny: true}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := policy.New(&config.Config{Rules: tc.rules, Default: "deny"})
			if err != nil {
				t.Fatal(err)
			}
			got := p.Shadowed()
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %v", got, tc.want)
			}
			for i, w := range tc.want {
				if got[i].Index != w[0] || got[i].ByIndex != w[1] {
					t.Fatalf("got %+v, want %v", got, tc.want)
				}
			}
		})
	}
}
