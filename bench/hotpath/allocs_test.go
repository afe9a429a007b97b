package hotpath_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestForwardAuthAllocations bounds what gatehouse allocates for one
// forward-auth answer with a valid cookie (the access line included), over
// the same request answered by the bare 202 handler: the request's own
// parsing is in both. Only in-process work on one goroutine is measured, so
// the count is deterministic for a given Go release. If a change needs
// more, raise the bound in the same commit and say why.
func TestForwardAuthAllocations(t *testing.T) {
	const maxExtra = 9
	cfg := gatewayConfig(t, "http://127.0.0.1:1")
	gw, store := newGateway(t, cfg, loggers[0].new())
	cookie := typicalCookie(t, store)
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	count := func(h http.Handler) float64 {
		return testing.AllocsPerRun(200, func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, request("http://127.0.0.1:4180/oauth2/auth", cookie, true))
			if rec.Code != http.StatusAccepted {
				t.Fatalf("status %d", rec.Code)
			}
		})
	}
	base, got := count(bare), count(gw)
	if extra := got - base; extra > maxExtra+poolSlack {
		t.Errorf("forward-auth allocates %v times beyond the bare handler's %v, bound %d", extra, base, maxExtra)
	}
	t.Logf("bare %v allocations, gatehouse %v", base, got)
}
