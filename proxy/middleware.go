package proxy

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"

	"github.com/gatehouse-dev/gatehouse/metrics"
)

type slogLevel = slog.Level

const (
	levelDebug = slog.LevelDebug
	levelWarn  = slog.LevelWarn
	levelError = slog.LevelError
)

type ctxKey int

const auditKey ctxKey = iota

// audit is what the access log line records about a request's decision; the
// handlers fill it in. It never holds cookies, tokens or query strings.
type audit struct {
	decision string
	rule     string
	reason   string
	provider string
	subject  string
	email    string
	bearer   bool   // authenticated by a bearer token rather than a session
	id       string // the request ID
}

func auditOf(ctx context.Context) *audit {
	a, _ := ctx.Value(auditKey).(*audit)
	if a == nil {
		return &audit{}
	}
	return a
}

func requestID(ctx context.Context) string {
	if a, _ := ctx.Value(auditKey).(*audit); a != nil {
		return a.id
	}
	return ""
}

// withRequestID gives every request an ID: the X-Request-Id of a trusted proxy
// (if it is a short token), otherwise a fresh random one. The ID is echoed in
// the response and passed to the upstream.
func (g *Gateway) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || !validRequestID(id) || !g.state.Load().trusted.PeerTrusted(r) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
			r.Header.Set("X-Request-Id", id)
		}
		w.Header().Set("X-Request-Id", id)
		// One context value per request carries the ID and the audit record.
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), auditKey, &audit{id: id})))
	})
}

func validRequestID(id string) bool {
	if len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// statusRecorder remembers the status for the access log. Unwrap lets
// http.ResponseController reach Flush and Hijack for streams and websockets.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush and Hijack are implemented directly too, for code that type-asserts.
func (s *statusRecorder) Flush() { _ = http.NewResponseController(s.ResponseWriter).Flush() }

func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if s.status == 0 {
		s.status = http.StatusSwitchingProtocols
	}
	return http.NewResponseController(s.ResponseWriter).Hijack()
}

// accessLog writes one line per request: the access log and the audit
// record of the decision in one. The query string is logged with the values
// of sensitive parameters (code, state, tokens) redacted.
func (g *Gateway) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := g.now()
		rec := &statusRecorder{ResponseWriter: w}
		a := auditOf(r.Context())
		next.ServeHTTP(rec, r)
		elapsed := g.now().Sub(start)
		g.opts.Metrics.ObserveRequest(metrics.RouteFor(r.URL.Path, g.opts.Config.Server.Prefix), rec.status, elapsed)
		if a.decision != "" {
			g.opts.Metrics.Decision(a.rule, a.decision)
		}
		if !g.log.Enabled(r.Context(), slog.LevelInfo) {
			return
		}
		attrs := make([]slog.Attr, 0, 16)
		attrs = append(attrs,
			slog.String("request_id", requestID(r.Context())),
			slog.String("method", r.Method),
			slog.String("host", r.Host),
			slog.String("path", r.URL.EscapedPath()),
		)
		if r.URL.RawQuery != "" {
			attrs = append(attrs, slog.String("query", redactQuery(r.URL.RawQuery)))
		}
		attrs = append(attrs,
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", elapsed),
			slog.String("remote", r.RemoteAddr),
		)
		if a.decision != "" {
			attrs = append(attrs, slog.String("decision", a.decision), slog.String("rule", a.rule), slog.String("reason", a.reason))
		}
		if a.subject != "" {
			attrs = append(attrs, slog.String("provider", a.provider), slog.String("subject", a.subject))
			if a.email != "" {
				attrs = append(attrs, slog.String("email", a.email))
			}
		}
		g.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}

var sensitiveParams = map[string]bool{
	"code": true, "state": true, "access_token": true, "id_token": true, "refresh_token": true,
	"token": true, "password": true, "client_secret": true, "otp": true, "csrf": true, "session_state": true,
}

func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return "(unparsable)"
	}
	for k := range vals {
		if sensitiveParams[strings.ToLower(k)] {
			vals[k] = []string{"REDACTED"}
		}
	}
	return vals.Encode()
}

func (g *Gateway) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				g.log.ErrorContext(r.Context(), "panic", "request_id", requestID(r.Context()), "panic", v, "stack", string(debug.Stack()))
				g.renderError(w, r, errors.New("panic"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// secureHeaders are set on every page gatehouse renders itself.
func secureHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}
