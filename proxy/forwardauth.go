package proxy

import (
	"fmt"
	"github.com/gatehouse-dev/gatehouse/forwarded"
	"github.com/gatehouse-dev/gatehouse/headers"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// forwardAuth answers an ingress asking "may this request pass?": 202 with
// X-Auth-Request-* headers, 401 (or 302 to sign in with ?redirect=1), 403, or
// 400 for malformed forwarded metadata. Every error path is non-2xx.
func (g *Gateway) forwardAuth(w http.ResponseWriter, r *http.Request) error {
	st := g.state.Load()
	if !st.trusted.PeerTrusted(r) {
		return g.forwardAuthUntrusted(w, r, st)
	}
	orig, err := g.originalRequest(r, true)
	if err != nil {
		return badRequest("Malformed forwarded request metadata.", err)
	}
	if !policy.ValidMethod(orig.method) {
		return badRequest("Invalid request method.", fmt.Errorf("forward-auth: method %q", orig.method))
	}
	rawPath, _, _ := strings.Cut(orig.uri, "?")
	path, err := policy.NormalizePath(rawPath)
	if err != nil {
		return badRequest("Invalid request path.", err)
	}
	host := policy.CanonicalHost(orig.host)
	who, sess, err := g.identify(w, r, st)
	if err != nil {
		return err
	}
	id := who.identity()
	dec := st.policy.Decide(id, policy.Request{Method: orig.method, Host: host, Path: path})
	recordDecision(r, dec, id)
	switch dec.Result {
	case policy.Allow:
		if id != nil {
			who.hdr.SetAuthRequest(w.Header())
			if tok := g.assertionFor(r, id, sess, host); tok != "" {
				w.Header()[headers.Assertion] = []string{tok}
			}
		}
		w.Header()["Cache-Control"] = noStore
		w.WriteHeader(http.StatusAccepted)
		return nil
	case policy.Login:
		if r.URL.Query().Get("redirect") == "1" && !wantsJSON(r) {
			rd := g.safeRedirect(r, st, orig.scheme+"://"+host+orig.uri)
			http.Redirect(w, r, st.public.String()+st.prefix+"/sign_in?rd="+url.QueryEscape(rd), http.StatusFound)
			return nil
		}
		return errUnauthorized
	}
	return errForbidden
}

// noStore is the Cache-Control of every 202, shared: net/http copies a
// response's header map when it writes it, and values are replaced, never
// written into.
var noStore = []string{"no-store"}

// forwardAuthUntrusted answers a forward-auth call from a peer outside
// trusted_proxies. Its forwarded headers are not believed, so there is no
// request to judge, and it never gets a 2xx: anonymous callers get 401
// (sign-in is needed whatever the path), signed-in ones 403. Usually this
// means trusted_proxies does not list the ingress.
func (g *Gateway) forwardAuthUntrusted(w http.ResponseWriter, r *http.Request, st *state) error {
	g.log.WarnContext(r.Context(), "forward-auth from an untrusted peer: forwarded headers ignored, nothing allowed",
		"request_id", requestID(r.Context()), "remote", r.RemoteAddr, "forwarded_headers", hasForwardedMetadata(r.Header))
	who, _, err := g.identify(w, r, st)
	if err != nil {
		return err
	}
	if who == nil {
		return errUnauthorized
	}
	return newHTTPError(http.StatusForbidden, "This request cannot be authorized.", fmt.Errorf("forward-auth: peer %s is not in trusted_proxies", r.RemoteAddr))
}

// originalRequest reads the request the ingress is asking about. Forwarded
// headers count only from trusted proxies (trusted: the caller judged the
// peer); from anyone else they are ignored and the forward-auth request
// itself is judged. The header names are written canonically, so they are
// looked up directly.
func (g *Gateway) originalRequest(r *http.Request, trusted bool) (originalRequest, error) {
	o := originalRequest{method: r.Method, scheme: forwarded.SchemeOf(r, trusted), host: r.Host}
	if !trusted {
		if hasForwardedMetadata(r.Header) {
			g.log.WarnContext(r.Context(), "ignored forwarded headers from untrusted peer", "request_id", requestID(r.Context()), "remote", r.RemoteAddr)
		}
		// Judge the forward-auth URL itself: it matches no app's rules.
		o.uri = r.URL.EscapedPath()
		return o, nil
	}
	h := r.Header
	// One ingress speaks one dialect, once. Traefik and Caddy pass the
	// client's own headers on to the auth request next to the ones they set,
	// so a request carrying both dialects, or a header twice, may be carrying
	// a client's claim about which request is being judged: refuse it rather
	// than pick one.
	for _, k := range forwardedTargetKeys {
		if len(h[k]) > 1 {
			return o, fmt.Errorf("%w: %s repeated", errForwarded, k)
		}
	}
	if len(h["X-Original-Url"]) > 0 && (len(h["X-Forwarded-Method"]) > 0 || len(h["X-Forwarded-Uri"]) > 0) {
		return o, fmt.Errorf("%w: both X-Original-URL and X-Forwarded-Method/Uri", errForwarded)
	}
	if raw := firstValue(h, "X-Original-Url"); raw != "" { // ingress-nginx (X-Original-URL)
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return o, fmt.Errorf("%w: X-Original-URL", errForwarded)
		}
		if !forwarded.ValidHost(u.Host) {
			return o, fmt.Errorf("%w: X-Original-URL host", errForwarded)
		}
		o.scheme, o.host, o.uri = u.Scheme, u.Host, u.RequestURI()
		o.method = firstValue(h, "X-Original-Method")
		if o.method == "" {
			o.method = http.MethodGet
		}
		return o, nil
	}
	o.method = firstValue(h, "X-Forwarded-Method")
	o.host = firstValue(h, "X-Forwarded-Host")
	o.uri = firstValue(h, "X-Forwarded-Uri")
	if o.method == "" || o.host == "" || o.uri == "" || o.uri[0] != '/' {
		return o, fmt.Errorf("%w: X-Forwarded-Method/Host/Uri missing", errForwarded)
	}
	if !forwarded.ValidHost(o.host) {
		return o, fmt.Errorf("%w: X-Forwarded-Host", errForwarded)
	}
	return o, nil
}

// forwardedTargetKeys name the request being judged; each may appear once.
var forwardedTargetKeys = []string{"X-Original-Url", "X-Original-Method", "X-Forwarded-Method", "X-Forwarded-Host", "X-Forwarded-Uri", "X-Forwarded-Proto"}

// firstValue is h.Get for a key written in canonical form.
func firstValue(h http.Header, canonicalKey string) string {
	if v := h[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func hasForwardedMetadata(h http.Header) bool {
	for _, k := range []string{"X-Forwarded-Host", "X-Forwarded-Uri", "X-Forwarded-Method", "X-Original-URL", "X-Forwarded-Proto"} {
		if h.Get(k) != "" {
			return true
		}
	}
	return false
}
