package headers

import (
	"net/http"
	"testing"

	"github.com/gatehouse-dev/gatehouse/identity"
)

// Stripping allocates nothing, and an identity's prepared values are set
// without allocating (the header maps share them).
func TestHotPathAllocations(t *testing.T) {
	id := &identity.Identity{Subject: "s", User: "bench", Email: "b@example.com", Groups: []string{"a", "b", "c", "d", "e"}}
	v := ValuesOf(id)
	h := http.Header{"Accept": {"*/*"}, "User-Agent": {"wrk"}, "Cookie": {"a=b"}, "X-Forwarded-Host": {"app"}}
	clean := http.Header{"Accept": {"*/*"}, "User-Agent": {"Mozilla/5.0"}, "Cookie": {"a=b"}, "Accept-Language": {"en"}}
	for name, tc := range map[string]struct {
		fn   func()
		want float64
	}{
		"Strip":          {func() { Strip(h) }, 0},
		"IsReserved":     {func() { _ = IsReserved("X-Forwarded-Email") }, 0},
		"SetAuthRequest": {func() { v.SetAuthRequest(h) }, 0},
		"SetIdentity":    {func() { v.SetIdentity(h) }, 0},
		// A client's own headers, nothing to remove (untrusted: every name
		// is normalised and looked up).
		"StripForwarding": {func() { StripForwarding(clean, false) }, 0},
	} {
		if n := testing.AllocsPerRun(100, tc.fn); n != tc.want {
			t.Errorf("%s: %v allocations per call, want %v", name, n, tc.want)
		}
	}
}
