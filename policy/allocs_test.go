package policy

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/identity"
)

// The per-request work of this package allocates nothing: a decision, an
// already-normal path, a canonical host (issue 4's hot path).
func TestHotPathAllocatesNothing(t *testing.T) {
	p := mustNew(t, testConfig())
	id := &identity.Identity{Provider: "corp", Subject: "1", Email: "alice@example.com", EmailVerified: true, Groups: []string{"dev"}}
	for name, fn := range map[string]func(){
		"Decide allow":     func() { _ = p.Decide(id, Request{Method: "GET", Host: "app.example.com", Path: "/admin/users"}) },
		"Decide regex":     func() { _ = p.Decide(id, Request{Method: "GET", Host: "app.example.com", Path: "/api/v2/x"}) },
		"Decide anonymous": func() { _ = p.Decide(nil, Request{Method: "GET", Host: "x.example5.com", Path: "/"}) },
		"Decide dots only": func() { _ = p.Decide(id, Request{Method: "GET", Host: "app.example.com", Path: "/.../x"}) },
		"NormalizePath":    func() { _, _ = NormalizePath("/app/page/42") },
		"CanonicalHost":    func() { _ = CanonicalHost("app.example.com:8443") },
		"ValidMethod":      func() { _ = ValidMethod("PATCH") },
		"Roles":            func() { _ = p.Roles(&identity.Identity{Subject: "x"}) },
	} {
		n := testing.AllocsPerRun(100, fn)
		if raceEnabled && name == "Decide regex" && n <= 2 {
			continue // regexp's pooled state, dropped by the race detector's sync.Pool
		}
		if n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}
