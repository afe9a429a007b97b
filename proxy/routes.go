package proxy

import (
	"net/http"
	"strings"
)

// routes is the whole route table, top to bottom. Gatehouse's own endpoints
// live under the prefix (and /ping, /ready); every other path is proxied.
// The catch-all does not go through http.ServeMux because ServeMux cleans
// paths with a redirect; proxied paths get gatehouse's one normalisation instead.
func (g *Gateway) routes() http.Handler {
	p := g.opts.Config.Server.Prefix
	own := http.NewServeMux()
	own.HandleFunc("GET /ping", g.ping)
	own.HandleFunc("GET /ready", g.ready)
	if g.opts.Metrics != nil && g.opts.Config.Server.MetricsListen == "" {
		// No separate metrics listener configured: serve it here.
		own.Handle("GET /metrics", g.opts.Metrics.Handler())
	}
	own.Handle("GET "+p+"/sign_in", g.page(g.signInPage))
	own.Handle("POST "+p+"/sign_in", g.page(g.csrfProtect(g.localLogin)))
	own.Handle("GET "+p+"/start", g.page(g.start))
	own.Handle("GET "+p+"/callback", g.page(g.callback))
	own.Handle("GET "+p+"/sign_out", g.page(g.signOutPage))
	own.Handle("POST "+p+"/sign_out", g.page(g.csrfProtect(g.signOut)))
	own.Handle(p+"/auth", g.api(g.forwardAuth))
	own.Handle("GET "+p+"/userinfo", g.api(g.userinfo))
	own.HandleFunc("GET "+p+"/jwks.json", g.jwks)
	own.Handle("GET "+p+"/static/", http.StripPrefix(p+"/static/", staticFiles()))
	own.Handle("/", g.page(func(w http.ResponseWriter, r *http.Request) error { return errNotFound }))

	metricsHere := g.opts.Metrics != nil && g.opts.Config.Server.MetricsListen == ""
	authPath, forwardAuth := p+"/auth", g.api(g.forwardAuth)
	ownPaths := func(path string) bool {
		return path == "/ping" || path == "/ready" || path == p || strings.HasPrefix(path, p+"/") || metricsHere && path == "/metrics"
	}
	dispatch := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == authPath {
			// The hot path: straight to the handler (any method), and no
			// page headers — forward-auth answers have no page to protect.
			forwardAuth.ServeHTTP(w, r)
			return
		}
		if ownPaths(r.URL.Path) {
			secureHeaders(w.Header())
			if r.TLS != nil || g.state.Load().public.scheme == "https" {
				w.Header().Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
			}
			own.ServeHTTP(w, r)
			return
		}
		g.proxyRequest(w, r)
	})
	// Panics are caught inside the request ID and access log, so the error
	// page carries the ID and the line is written.
	return g.observe(g.recoverPanics(stripClientIdentity(dispatch)))
}

func (g *Gateway) ping(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("OK\n"))
}

// ready fails while draining, while a provider's discovery has not succeeded,
// or while a ready check (Redis) fails. Liveness (/ping) never depends on them.
func (g *Gateway) ready(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fail := func(what string, err error) {
		g.log.WarnContext(r.Context(), "not ready", "check", what, "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: " + what + "\n"))
	}
	if g.draining.Load() {
		fail("shutting down", nil)
		return
	}
	for _, p := range g.opts.Providers {
		if rd, ok := p.(interface{ Ready() error }); ok {
			if err := rd.Ready(); err != nil {
				fail("provider "+p.ID(), err)
				return
			}
		}
	}
	for _, check := range g.opts.ReadyChecks {
		if err := check(r.Context()); err != nil {
			fail("dependency (session store or token issuer)", err)
			return
		}
	}
	_, _ = w.Write([]byte("OK\n"))
}

// jwks publishes the public keys of the identity assertion (current and
// previous), for upstreams to verify X-Gatehouse-Assertion.
func (g *Gateway) jwks(w http.ResponseWriter, r *http.Request) {
	if g.opts.Assertion == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(g.opts.Assertion.JWKS())
}
