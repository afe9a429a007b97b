package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// scrape serves m on an httptest server and returns the text exposition.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestScrapeShowsRecordedSeries(t *testing.T) {
	m := New()
	m.SetBuildInfo("v1.2.3")
	m.ObserveRequest(RouteProxy, 200, 3*time.Millisecond)
	m.ObserveRequest(RouteProxy, 200, 40*time.Millisecond)
	m.ObserveRequest(RouteProxy, 502, time.Second)
	m.ObserveRequest(RouteCallback, 302, 20*time.Millisecond)
	m.ObserveRequest(RouteForwardAuth, 401, 200*time.Microsecond)
	m.Decision("admin", "allow")
	m.Decision("admin", "allow")
	m.Decision("default", "forbid")
	m.Login("corp", OutcomeSuccess)
	m.Login("local", OutcomeFailure)
	m.Login("local", OutcomeLocked)
	m.Refresh("corp", OutcomeSuccess)
	m.Refresh("corp", OutcomeFailure)
	m.StoreError("save")
	m.UpstreamError("127.0.0.1:8080", KindRefused)
	m.UpstreamError("127.0.0.1:8080", KindTimeout)

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	want := fmt.Sprintf(`
# HELP gatehouse_build_info Always 1; the labels say which gatehouse build is running.
# TYPE gatehouse_build_info gauge
gatehouse_build_info{goversion=%q,version="v1.2.3"} 1
# HELP gatehouse_http_requests_total HTTP requests answered, by route and status code (exact for common codes, else the class such as 5xx).
# TYPE gatehouse_http_requests_total counter
gatehouse_http_requests_total{code="200",route="proxy"} 2
gatehouse_http_requests_total{code="502",route="proxy"} 1
gatehouse_http_requests_total{code="302",route="callback"} 1
gatehouse_http_requests_total{code="401",route="forward_auth"} 1
# HELP gatehouse_decisions_total Policy decisions, by the rule that decided and the result (allow, login, forbid).
# TYPE gatehouse_decisions_total counter
gatehouse_decisions_total{result="allow",rule="admin"} 2
gatehouse_decisions_total{result="forbid",rule="default"} 1
# HELP gatehouse_logins_total Login attempts, by provider and outcome (success, failure, denied, locked, error).
# TYPE gatehouse_logins_total counter
gatehouse_logins_total{outcome="success",provider="corp"} 1
gatehouse_logins_total{outcome="failure",provider="local"} 1
gatehouse_logins_total{outcome="locked",provider="local"} 1
# HELP gatehouse_session_refreshes_total Token refreshes of sessions, by provider and outcome (success, failure, error).
# TYPE gatehouse_session_refreshes_total counter
gatehouse_session_refreshes_total{outcome="success",provider="corp"} 1
gatehouse_session_refreshes_total{outcome="failure",provider="corp"} 1
# HELP gatehouse_session_store_errors_total Session store failures (not missing or invalid sessions), by operation.
# TYPE gatehouse_session_store_errors_total counter
gatehouse_session_store_errors_total{op="save"} 1
# HELP gatehouse_upstream_errors_total Requests that could not be proxied, by upstream and kind (refused, timeout, other).
# TYPE gatehouse_upstream_errors_total counter
gatehouse_upstream_errors_total{kind="refused",upstream="127.0.0.1:8080"} 1
gatehouse_upstream_errors_total{kind="timeout",upstream="127.0.0.1:8080"} 1
`, runtime.Version())
	names := []string{
		"gatehouse_build_info", "gatehouse_http_requests_total", "gatehouse_decisions_total",
		"gatehouse_logins_total", "gatehouse_session_refreshes_total",
		"gatehouse_session_store_errors_total", "gatehouse_upstream_errors_total",
	}
	if err := testutil.ScrapeAndCompare(srv.URL, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}

	// The histogram: counts per bucket and the sum, for the proxy route.
	body := scrape(t, m)
	for _, line := range []string{
		`gatehouse_http_request_duration_seconds_bucket{route="proxy",le="0.0005"} 0`,
		`gatehouse_http_request_duration_seconds_bucket{route="proxy",le="0.005"} 1`,
		`gatehouse_http_request_duration_seconds_bucket{route="proxy",le="0.05"} 2`,
		`gatehouse_http_request_duration_seconds_bucket{route="proxy",le="1"} 3`,
		`gatehouse_http_request_duration_seconds_bucket{route="proxy",le="10"} 3`,
		`gatehouse_http_request_duration_seconds_bucket{route="proxy",le="+Inf"} 3`,
		`gatehouse_http_request_duration_seconds_sum{route="proxy"} 1.043`,
		`gatehouse_http_request_duration_seconds_count{route="proxy"} 3`,
		`gatehouse_http_request_duration_seconds_bucket{route="forward_auth",le="0.0005"} 1`,
		`gatehouse_http_request_duration_seconds_count{route="callback"} 1`,
	} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("scrape lacks %q", line)
		}
	}
	// Only series that happened are exposed.
	if strings.Contains(body, `route="jwks"`) {
		t.Error("a route that saw no request is exposed")
	}
}

func TestScrapeHasRuntimeAndProcessSeries(t *testing.T) {
	body := scrape(t, New())
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_open_fds", "promhttp_metric_handler_requests_total"} {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("scrape lacks %s", name)
		}
	}
}

func TestRegistriesAreIndependent(t *testing.T) {
	a, b := New(), New()
	a.Login("corp", OutcomeSuccess)
	if n := testutil.CollectAndCount(b.Registry(), "gatehouse_logins_total"); n != 0 {
		t.Fatalf("a second Metrics sees %d login series of the first", n)
	}
	if n := testutil.CollectAndCount(a.Registry(), "gatehouse_logins_total"); n != 1 {
		t.Fatalf("logins series = %d, want 1", n)
	}
}

func TestSetBuildInfoReplaces(t *testing.T) {
	m := New()
	m.SetBuildInfo("v1")
	m.SetBuildInfo("v2")
	body := scrape(t, m)
	if strings.Contains(body, `version="v1"`) || !strings.Contains(body, `version="v2"`) {
		t.Fatalf("build info after two calls:\n%s", grepLines(body, "gatehouse_build_info"))
	}
	if n := testutil.CollectAndCount(m.buildInfo); n != 1 {
		t.Fatalf("build info series = %d, want 1", n)
	}
}

func TestNilMetricsDoesNothing(t *testing.T) {
	var m *Metrics
	m.SetBuildInfo("v1")
	m.ObserveRequest(RouteProxy, 200, time.Millisecond)
	m.Decision("r", "allow")
	m.Login("p", OutcomeSuccess)
	m.Refresh("p", OutcomeError)
	m.StoreError("load")
	m.UpstreamError("u", KindOther)
	if m.Registry() != nil {
		t.Fatal("nil Metrics has a registry")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("nil Metrics handler: %d, want 404", rec.Code)
	}
}

func TestClosedLabelSets(t *testing.T) {
	tests := []struct {
		name   string
		record func(m *Metrics)
		series string
	}{
		{"unknown route is other", func(m *Metrics) { m.ObserveRequest("/admin/users/42", 200, 0) },
			`gatehouse_http_requests_total{code="200",route="other"} 1`},
		{"unknown outcome is other", func(m *Metrics) { m.Login("corp", "exploded") },
			`gatehouse_logins_total{outcome="other",provider="corp"} 1`},
		{"unknown refresh outcome is other", func(m *Metrics) { m.Refresh("corp", "") },
			`gatehouse_session_refreshes_total{outcome="other",provider="corp"} 1`},
		{"unknown kind is other", func(m *Metrics) { m.UpstreamError("app:80", "dns") },
			`gatehouse_upstream_errors_total{kind="other",upstream="app:80"} 1`},
		{"empty names are unknown", func(m *Metrics) { m.Decision("", "allow") },
			`gatehouse_decisions_total{result="allow",rule="unknown"} 1`},
		{"invalid UTF-8 is replaced", func(m *Metrics) { m.StoreError("lo\xffad") },
			"gatehouse_session_store_errors_total{op=\"lo\ufffdad\"} 1"},
		{"long names are cut", func(m *Metrics) { m.StoreError(strings.Repeat("é", 100)) },
			`gatehouse_session_store_errors_total{op="` + strings.Repeat("é", 64) + `"} 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := New()
			tc.record(m)
			if body := scrape(t, m); !strings.Contains(body, tc.series+"\n") {
				t.Fatalf("scrape lacks %s", tc.series)
			}
		})
	}
}

func TestConfiguredLabelsAreCapped(t *testing.T) {
	m := New()
	for i := range maxSeries + 50 {
		m.Login(fmt.Sprintf("p%d", i), OutcomeSuccess)
	}
	m.Login("late", OutcomeFailure)
	m.Login("p0", OutcomeSuccess) // cached before the cap: still its own series
	if n := testutil.CollectAndCount(m.Registry(), "gatehouse_logins_total"); n != maxSeries+2 {
		t.Fatalf("login series = %d, want %d (the cap, plus one overflow series per outcome)", n, maxSeries+2)
	}
	body := scrape(t, m)
	for _, line := range []string{
		`gatehouse_logins_total{outcome="success",provider="_overflow"} 50`,
		`gatehouse_logins_total{outcome="failure",provider="_overflow"} 1`,
		`gatehouse_logins_total{outcome="success",provider="p0"} 2`,
	} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("scrape lacks %s", line)
		}
	}
	if got := len(*m.logins.m.Load()); got != maxSeries {
		t.Errorf("cache holds %d entries, want %d", got, maxSeries)
	}
}

func TestConcurrentRecording(t *testing.T) {
	m := New()
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				m.ObserveRequest(RouteProxy, 200, time.Millisecond)
				m.Decision(fmt.Sprintf("rule%d", i%3), "allow")
				m.UpstreamError(fmt.Sprintf("up%d", w%2), KindTimeout)
			}
		}()
	}
	wg.Wait()
	if got := testutil.ToFloat64(m.requests.WithLabelValues(RouteProxy, "200")); got != workers*each {
		t.Fatalf("requests = %v, want %d", got, workers*each)
	}
	var decisions float64
	for i := range 3 {
		decisions += testutil.ToFloat64(m.decisions.vec.WithLabelValues(fmt.Sprintf("rule%d", i), "allow"))
	}
	if decisions != workers*each {
		t.Fatalf("decisions = %v, want %d", decisions, workers*each)
	}
	if n := testutil.CollectAndCount(m.Registry(), "gatehouse_upstream_errors_total"); n != 2 {
		t.Fatalf("upstream error series = %d, want 2", n)
	}
}

func TestRecordingDoesNotAllocate(t *testing.T) {
	m := New()
	tests := []struct {
		name string
		fn   func()
	}{
		{"ObserveRequest", func() { m.ObserveRequest(RouteForwardAuth, 202, time.Millisecond) }},
		{"Decision", func() { m.Decision("admin", "allow") }},
		{"Login", func() { m.Login("corp", OutcomeSuccess) }},
		{"UpstreamError", func() { m.UpstreamError("app:80", KindRefused) }},
		{"StoreError", func() { m.StoreError("load") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn() // the first call resolves the series
			if n := testing.AllocsPerRun(100, tc.fn); n != 0 {
				t.Fatalf("%v allocations per call", n)
			}
		})
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func BenchmarkObserveRequest(b *testing.B) {
	m := New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest(RouteProxy, 200, 1500*time.Microsecond)
		}
	})
}

func BenchmarkDecision(b *testing.B) {
	m := New()
	for i := range 50 {
		m.Decision(fmt.Sprintf("rule%d", i), "allow")
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Decision("rule17", "allow")
		}
	})
}

func BenchmarkNilMetrics(b *testing.B) {
	var m *Metrics
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest(RouteProxy, 200, time.Millisecond)
	}
}
