package metrics

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// ObserveRequest records one answered request: it counts it in
// gatehouse_http_requests_total{route, code} and observes d in
// gatehouse_http_request_duration_seconds{route}. route is one of the Route
// constants (anything else counts as RouteOther); code is the status sent
// (0, meaning nothing was written, counts as 200, which is what net/http
// sends). The code label is the exact code for the common ones (101, 200,
// 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405,
// 408, 409, 413, 429, 431, 500, 501, 502, 503, 504) and the class ("2xx",
// "4xx"...) for any other, so `code=~"5.."` selects every server error.
//
// After the first request of a (route, code) pair, ObserveRequest takes no
// locks and does not allocate.
func (m *Metrics) ObserveRequest(route string, code int, d time.Duration) {
	if m == nil {
		return
	}
	ri, ci := routeSlot(route), codeSlot(code)
	c := m.reqSlots[ri][ci].Load()
	if c == nil {
		c = &counterRef{m.requests.WithLabelValues(routeNames[ri], codeLabels[ci])}
		m.reqSlots[ri][ci].Store(c) // a racing duplicate resolves to the same child
	}
	c.c.Inc()
	o := m.durSlots[ri].Load()
	if o == nil {
		o = &observerRef{m.durations.WithLabelValues(routeNames[ri])}
		m.durSlots[ri].Store(o)
	}
	o.o.Observe(d.Seconds())
}

// Decision counts a policy decision in gatehouse_decisions_total{rule,
// result}: rule is the name of the rule that decided (policy.Decision.Rule,
// including the default's name), result its Result.String() ("allow",
// "login", "forbid"). Both come from the configuration, never from a request.
func (m *Metrics) Decision(rule, result string) {
	if m == nil {
		return
	}
	m.decisions.get(rule, result).Inc()
}

// Login counts a login attempt in gatehouse_logins_total{provider, outcome}:
// provider is the configured provider ID, outcome one of the Outcome
// constants (anything else counts as "other").
func (m *Metrics) Login(provider, outcome string) {
	if m == nil {
		return
	}
	m.logins.get(provider, outcome).Inc()
}

// Refresh counts a token refresh in gatehouse_session_refreshes_total
// {provider, outcome}: OutcomeSuccess, OutcomeFailure (the provider refused
// the refresh token and the session ended) or OutcomeError (transient).
func (m *Metrics) Refresh(provider, outcome string) {
	if m == nil {
		return
	}
	m.refreshes.get(provider, outcome).Inc()
}

// StoreError counts a session store failure in
// gatehouse_session_store_errors_total{op}; op names the operation ("load",
// "save", "clear", "lock", ...). ErrNoSession and ErrInvalid are normal
// outcomes, not store errors.
func (m *Metrics) StoreError(op string) {
	if m == nil {
		return
	}
	m.storeErrors.get(op, "").Inc()
}

// UpstreamError counts a request that could not be proxied in
// gatehouse_upstream_errors_total{upstream, kind}. upstream names the
// configured upstream (e.g. its URL's host:port) and must not contain
// credentials; kind is KindRefused, KindTimeout or KindOther (anything else
// counts as KindOther), usually from UpstreamErrorKind.
func (m *Metrics) UpstreamError(upstream, kind string) {
	if m == nil {
		return
	}
	m.upstreamErrs.get(upstream, kind).Inc()
}

// maxSeries caps the label sets of each metric whose labels come from the
// configuration; further ones are counted under overflowLabel.
const maxSeries = 1000

const overflowLabel = "_overflow"

// labelKind says how a label's values are bounded.
type labelKind int

const (
	free         labelKind = iota // from the configuration: capped by maxSeries
	outcomeLabel                  // one of the Outcome constants, else "other"
	kindLabel                     // one of the Kind constants, else "other"
)

// labelCache resolves a CounterVec's children by label values (one or two
// labels). Reads go through an immutable map behind an atomic pointer: no
// locks, no allocation. A miss copies the map under mu.
type labelCache struct {
	vec   *prometheus.CounterVec
	kinds []labelKind
	mu    sync.Mutex
	m     atomic.Pointer[map[[2]string]prometheus.Counter]
}

func newLabelCache(vec *prometheus.CounterVec, kinds ...labelKind) *labelCache {
	c := &labelCache{vec: vec, kinds: kinds}
	empty := map[[2]string]prometheus.Counter{}
	c.m.Store(&empty)
	return c
}

func (c *labelCache) get(a, b string) prometheus.Counter {
	key := [2]string{a, b}
	if ctr, ok := (*c.m.Load())[key]; ok {
		return ctr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.m.Load()
	if ctr, ok := old[key]; ok {
		return ctr
	}
	values := make([]string, len(c.kinds))
	for i, kind := range c.kinds {
		values[i] = boundLabel(kind, key[i])
	}
	if len(old) >= maxSeries {
		// Keep the closed-set labels, fold the configured ones together,
		// and cache nothing more: memory stays bounded too.
		for i, kind := range c.kinds {
			if kind == free {
				values[i] = overflowLabel
			}
		}
		return c.vec.WithLabelValues(values...)
	}
	ctr := c.vec.WithLabelValues(values...)
	next := make(map[[2]string]prometheus.Counter, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[key] = ctr
	c.m.Store(&next)
	return ctr
}

func boundLabel(kind labelKind, v string) string {
	switch kind {
	case outcomeLabel:
		switch v {
		case OutcomeSuccess, OutcomeFailure, OutcomeDenied, OutcomeLocked, OutcomeError:
			return v
		}
		return "other"
	case kindLabel:
		switch v {
		case KindRefused, KindTimeout, KindOther:
			return v
		}
		return KindOther
	}
	return labelValue(v)
}

// maxLabelBytes bounds a configured label value's length.
const maxLabelBytes = 128

// labelValue makes a configured name a valid, short label value: "unknown"
// when empty, invalid UTF-8 replaced, cut at maxLabelBytes.
func labelValue(v string) string {
	if v == "" {
		return "unknown"
	}
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	if len(v) > maxLabelBytes {
		cut := maxLabelBytes
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = v[:cut]
	}
	return v
}
