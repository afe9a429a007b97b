package proxy

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gatehouse-dev/gatehouse/metrics"
	"github.com/gatehouse-dev/gatehouse/redact"
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
	// proxy is what the ReverseProxy's rewrite and error handlers need,
	// set by serveProxy just before proxying.
	proxy *proxyContext
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

// observe gives every request an ID and writes its access line. The ID is
// the X-Request-Id of a trusted proxy (if it is a short token), otherwise a
// fresh one; it is echoed in the response and passed to the upstream. One
// allocation carries the audit record (the request's one context value)
// and the status recorder.
func (g *Gateway) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := g.now()
		o := &observed{rec: statusRecorder{ResponseWriter: w}}
		idv := r.Header["X-Request-Id"]
		if len(idv) != 1 || !validRequestID(idv[0]) || !g.state.Load().trusted.PeerTrusted(r) {
			// One slice for the request and the response: header values are
			// replaced, never written into, and the response's map is copied
			// when it is written.
			o.idv[0] = g.ids.next(&o.idBuf)
			idv = o.idv[:]
			r.Header["X-Request-Id"] = idv
		}
		o.audit.id = idv[0]
		w.Header()["X-Request-Id"] = idv
		r = r.WithContext(context.WithValue(r.Context(), auditKey, &o.audit))
		next.ServeHTTP(&o.rec, r)
		end := g.now()
		g.logAccess(r, &o.audit, &o.rec, end, end.Sub(start))
	})
}

type observed struct {
	audit audit
	rec   statusRecorder
	// A generated request ID lives here too: its bytes and the one-value
	// slice the request and response headers share, so it costs no
	// allocation of its own. Strings and slices pointing into observed keep
	// it alive as long as they are used.
	idBuf [16]byte
	idv   [1]string
}

// requestIDs are a random 64-bit start, drawn once, plus a counter: unique
// within the process and, with overwhelming odds, across replicas and
// restarts, without a call into crypto/rand on every request. An ID is a
// correlation handle, never a secret, so being sequential costs nothing.
type requestIDs struct{ n atomic.Uint64 }

func newRequestIDs() *requestIDs {
	var b [8]byte
	_, _ = rand.Read(b[:])
	ids := &requestIDs{}
	ids.n.Store(binary.LittleEndian.Uint64(b[:]))
	return ids
}

// next writes the next ID into buf and returns it as a string sharing
// buf's memory: buf must never be written again.
func (ids *requestIDs) next(buf *[16]byte) string {
	v := ids.n.Add(1)
	for i := 15; i >= 0; i-- {
		buf[i] = "0123456789abcdef"[v&0xF]
		v >>= 4
	}
	return unsafe.String(&buf[0], len(buf))
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

// logAccess writes one line per request: the access log and the audit
// record of the decision in one. The query string is logged with the values
// of sensitive parameters (code, state, tokens) redacted, also inside values
// that are URLs themselves (package redact).
func (g *Gateway) logAccess(r *http.Request, a *audit, rec *statusRecorder, end time.Time, elapsed time.Duration) {
	g.opts.Metrics.ObserveRequest(metrics.RouteFor(r.URL.Path, g.opts.Config.Server.Prefix), rec.status, elapsed)
	if a.decision != "" {
		g.opts.Metrics.Decision(a.rule, a.decision)
	}
	ctx := r.Context()
	if !g.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	ap := accessAttrs.Get().(*[16]slog.Attr)
	defer accessAttrs.Put(ap)
	attrs := append(ap[:0],
		slog.String("request_id", a.id),
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", r.URL.EscapedPath()),
	)
	if r.URL.RawQuery != "" {
		attrs = append(attrs, slog.String("query", redact.Query(r.URL.RawQuery)))
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
	if g.attrsLog != nil {
		g.attrsLog.LogAttrsAt(ctx, end, slog.LevelInfo, "request", attrs)
	} else {
		g.log.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
	}
	clear(attrs) // the pool must not keep strings of the request alive
}

// attrsLogger is a log handler that writes a record straight from its
// attributes (internal/jsonlog does): the access line then costs neither a
// slog.Record nor a caller lookup.
type attrsLogger interface {
	LogAttrsAt(ctx context.Context, t time.Time, level slog.Level, msg string, attrs []slog.Attr)
}

// accessAttrs holds the access line's attributes (at most 16) between
// requests, so building the line allocates nothing.
var accessAttrs = sync.Pool{New: func() any { return new([16]slog.Attr) }}

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
