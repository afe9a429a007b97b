package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/bearer"
)

// httpError is an error with the status and the fixed, user-facing message to
// render. The wrapped error is logged, never shown.
type httpError struct {
	status int
	msg    string
	err    error
	// bearer marks 401s for API clients that should carry WWW-Authenticate: Bearer.
	bearerErr string
}

func (e *httpError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%d %s: %v", e.status, e.msg, e.err)
	}
	return fmt.Sprintf("%d %s", e.status, e.msg)
}

func (e *httpError) Unwrap() error { return e.err }

var (
	errNotFound     = &httpError{status: http.StatusNotFound, msg: "Not found."}
	errUnauthorized = &httpError{status: http.StatusUnauthorized, msg: "Sign-in required."}
	errForbidden    = &httpError{status: http.StatusForbidden, msg: "You do not have access to this page."}
)

func newHTTPError(status int, msg string, err error) *httpError {
	return &httpError{status: status, msg: msg, err: err}
}

func badRequest(msg string, err error) error {
	return newHTTPError(http.StatusBadRequest, msg, err)
}

// handlerFunc is an http.Handler that can fail; page and api turn it into one.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// page adapts a failing handler: the error is logged once with the request
// ID, and the client gets only a status, a fixed message and the request ID,
// as an HTML page or as JSON for API clients.
func (g *Gateway) page(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			g.renderError(w, r, err)
		}
	})
}

// api is page for endpoints consumed by programs (forward-auth, userinfo):
// errors are JSON unless the client asks for HTML.
func (g *Gateway) api(h handlerFunc) http.Handler { return g.page(h) }

func (g *Gateway) renderError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		he = newHTTPError(http.StatusInternalServerError, "Something went wrong. Please try again later.", err)
	}
	rid := requestID(r.Context())
	level := levelForStatus(he.status)
	g.log.Log(r.Context(), level, "request failed", "request_id", rid, "status", he.status, "error", err.Error())

	h := w.Header()
	h.Del("Content-Length")
	h.Set("Cache-Control", "no-store")
	if he.status == http.StatusUnauthorized && wantsJSON(r) {
		v := `Bearer realm="gatehouse"`
		if he.bearerErr != "" {
			v += `, error="` + he.bearerErr + `"`
		}
		h.Set("WWW-Authenticate", v)
	}
	if wantsJSON(r) {
		h.Set("Content-Type", "application/json")
		w.WriteHeader(he.status)
		_ = json.NewEncoder(w).Encode(struct {
			Error     string `json:"error"`
			Status    int    `json:"status"`
			RequestID string `json:"request_id"`
		}{he.msg, he.status, rid})
		return
	}
	secureHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(he.status)
	g.renderTemplate(w, "error.html", errorPage{
		base:      g.base(r),
		Status:    he.status,
		Title:     errorTitle(he.status),
		Message:   he.msg,
		RequestID: rid,
	})
}

// wantsJSON reports whether the client is a program rather than a browser:
// it sent a bearer token, an XHR marker, or an Accept header that prefers JSON.
func wantsJSON(r *http.Request) bool {
	if r.Header.Get("X-Requested-With") == "XMLHttpRequest" {
		return true
	}
	if bearer.IsBearer(r.Header.Get("Authorization")) {
		return true
	}
	accept := r.Header.Get("Accept")
	if accept == "" {
		return false
	}
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

func levelForStatus(status int) slogLevel {
	switch {
	case status >= 500:
		return levelError
	case status == http.StatusUnauthorized || status == http.StatusNotFound:
		return levelDebug
	}
	return levelWarn
}
