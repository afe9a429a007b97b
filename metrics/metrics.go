// Package metrics holds gatehouse's Prometheus series and serves them.
//
// A *Metrics owns its own registry (never the global default one), so two
// gateways in one process, or tests running in parallel, do not share
// series. Every recording method is safe on a nil *Metrics, where it does
// nothing: code paths built without metrics need no checks.
//
// Label values are bounded: routes, status codes, outcomes and upstream error
// kinds are closed sets (anything unexpected is counted under "other"), and
// the labels that come from the configuration (rule, provider, upstream,
// store operation) are capped at maxSeries label sets per metric, beyond
// which they are counted under "_overflow". No label value is ever taken
// from a request, so no client can grow the number of series.
package metrics

import (
	"net/http"
	"runtime"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Route label values of gatehouse_http_requests_total and
// gatehouse_http_request_duration_seconds. Any other value passed to
// ObserveRequest is recorded as RouteOther.
const (
	RouteProxy       = "proxy"        // a request passed (or refused) on its way to an upstream
	RouteForwardAuth = "forward_auth" // <prefix>/auth
	RouteSignIn      = "sign_in"      // <prefix>/sign_in, GET and POST
	RouteStart       = "start"        // <prefix>/start
	RouteCallback    = "callback"     // <prefix>/callback
	RouteSignOut     = "sign_out"     // <prefix>/sign_out, GET and POST
	RouteUserinfo    = "userinfo"     // <prefix>/userinfo
	RouteJWKS        = "jwks"         // <prefix>/jwks.json
	RouteHealth      = "health"       // /ping and /ready
	RouteStatic      = "static"       // <prefix>/static/...
	RouteOther       = "other"        // anything else gatehouse answers itself (404s, /metrics)
)

// Outcome label values of gatehouse_logins_total and
// gatehouse_session_refreshes_total. Any other value is recorded as "other".
const (
	OutcomeSuccess = "success" // a session was created (login) or renewed (refresh)
	OutcomeFailure = "failure" // wrong credentials, or the provider rejected the refresh token (the session ends)
	OutcomeDenied  = "denied"  // the provider said who it is, but gatehouse refused the identity (hd, org, unverified email)
	OutcomeLocked  = "locked"  // refused by the brute-force lockout without checking the password
	OutcomeError   = "error"   // the provider, the network or the session store failed
)

// Kind label values of gatehouse_upstream_errors_total; see UpstreamErrorKind.
const (
	KindRefused = "refused" // connection refused: nothing listens at the upstream address
	KindTimeout = "timeout" // dial, response-header or overall timeout
	KindOther   = "other"   // anything else (reset, TLS, DNS, malformed response)
)

// DurationBuckets are the upper bounds, in seconds, of
// gatehouse_http_request_duration_seconds: from half a millisecond (a
// forward-auth answer from a cookie) to ten seconds (a slow upstream or a
// login round trip to a provider).
var DurationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Metrics is gatehouse's set of Prometheus series and the registry that
// exposes them. Create it with New; the zero value is not usable, but a nil
// *Metrics is, and records nothing.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	buildInfo *prometheus.GaugeVec
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec

	// Children of requests and durations, resolved on first use so that
	// only series that happened are exposed, then read without locks.
	reqSlots [numRoutes][numCodeSlots]atomic.Pointer[counterRef]
	durSlots [numRoutes]atomic.Pointer[observerRef]

	decisions    *labelCache
	logins       *labelCache
	refreshes    *labelCache
	storeErrors  *labelCache
	upstreamErrs *labelCache
}

type counterRef struct{ c prometheus.Counter }
type observerRef struct{ o prometheus.Observer }

// New returns a Metrics with its own registry holding gatehouse's series,
// the Go runtime collector and the process collector. Call SetBuildInfo once
// to publish gatehouse_build_info.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg}
	m.buildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gatehouse_build_info",
		Help: "Always 1; the labels say which gatehouse build is running.",
	}, []string{"version", "goversion"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_http_requests_total",
		Help: "HTTP requests answered, by route and status code (exact for common codes, else the class such as 5xx).",
	}, []string{"route", "code"})
	m.durations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gatehouse_http_request_duration_seconds",
		Help:    "Time from receiving a request to the end of its response, by route.",
		Buckets: DurationBuckets,
	}, []string{"route"})
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_decisions_total",
		Help: "Policy decisions, by the rule that decided and the result (allow, login, forbid).",
	}, []string{"rule", "result"})
	logins := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_logins_total",
		Help: "Login attempts, by provider and outcome (success, failure, denied, locked, error).",
	}, []string{"provider", "outcome"})
	refreshes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_session_refreshes_total",
		Help: "Token refreshes of sessions, by provider and outcome (success, failure, error).",
	}, []string{"provider", "outcome"})
	storeErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_session_store_errors_total",
		Help: "Session store failures (not missing or invalid sessions), by operation.",
	}, []string{"op"})
	upstreamErrs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_upstream_errors_total",
		Help: "Requests that could not be proxied, by upstream and kind (refused, timeout, other).",
	}, []string{"upstream", "kind"})
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.buildInfo, m.requests, m.durations,
		decisions, logins, refreshes, storeErrors, upstreamErrs,
	)
	m.decisions = newLabelCache(decisions, free, free)
	m.logins = newLabelCache(logins, free, outcomeLabel)
	m.refreshes = newLabelCache(refreshes, free, outcomeLabel)
	m.storeErrors = newLabelCache(storeErrors, free)
	m.upstreamErrs = newLabelCache(upstreamErrs, free, kindLabel)
	m.handler = promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry: reg,
		// A scrape gathers everything; a flood of them must not pile up.
		MaxRequestsInFlight: 4,
	}))
	return m
}

// Registry returns the registry behind Handler, for registering further
// collectors (nil for a nil Metrics).
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the registry in the Prometheus exposition format (text, or
// protobuf when the scraper asks for it). It exposes operational data only —
// no identities, tokens or request contents — but it does reveal rule names,
// provider IDs and upstream names, so serve it on a private listener
// (server.metrics_listen). A nil Metrics serves 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return m.handler
}

// SetBuildInfo publishes gatehouse_build_info{version, goversion} = 1, with
// goversion taken from the running binary. Calling it again replaces the
// series.
func (m *Metrics) SetBuildInfo(version string) {
	if m == nil {
		return
	}
	m.buildInfo.Reset()
	m.buildInfo.WithLabelValues(labelValue(version), runtime.Version()).Set(1)
}
