package hotpath_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestForwardAuthAllocations bounds what gatehouse allocates for one
// forward-auth answer with a valid cookie (the access line included), over
// the same request answered by the bare 202 handler: the request's own
// parsing is in both. The first request of a connection finds its session
// in the decode cache; the next ones on it, in the connection's memo. Only
// in-process work on one goroutine is measured, so the counts are
// deterministic for a given Go release. If a change needs more, raise the
// bound in the same commit and say why.
func TestForwardAuthAllocations(t *testing.T) {
	cfg := gatewayConfig(t, "http://127.0.0.1:1")
	gw, store := newGateway(t, cfg, loggers[0].new())
	cookie := typicalCookie(t, store)
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	count := func(h http.Handler, conn func() context.Context) float64 {
		return testing.AllocsPerRun(200, func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, request(conn(), "http://127.0.0.1:4180/oauth2/auth", cookie, true))
			if rec.Code != http.StatusAccepted {
				t.Fatalf("status %d", rec.Code)
			}
		})
	}
	keepAlive := onConnection(gw)
	for _, c := range []struct {
		name     string
		conn     func() context.Context
		maxExtra float64
	}{
		{"first request on a connection", func() context.Context { return onConnection(gw) }, 11},
		{"keep-alive request", func() context.Context { return keepAlive }, 8},
	} {
		base, got := count(bare, c.conn), count(gw, c.conn)
		if extra := got - base; extra > c.maxExtra+poolSlack {
			t.Errorf("%s: forward-auth allocates %v times beyond the bare handler's %v, bound %v", c.name, extra, base, c.maxExtra)
		}
		t.Logf("%s: bare %v allocations, gatehouse %v", c.name, base, got)
	}
}
