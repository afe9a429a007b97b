package proxy

import (
	"context"
	"errors"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/forwarded"
	"github.com/gatehouse-dev/gatehouse/headers"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/bearer"
	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/session"
)

var errStoreDown = newHTTPError(http.StatusServiceUnavailable, "The session store is unavailable. Please try again shortly.", nil)

// identify loads the caller's session and derives their identity under the
// current rules (see deriveCache). It returns (nil, nil, nil) for an
// anonymous caller and an error only when it must fail closed (store down);
// a bad, expired or foreign cookie is simply anonymous, never a 500. The
// derived identity is shared: read it, never change it.
func (g *Gateway) identify(w http.ResponseWriter, r *http.Request, st *state) (*derived, *session.Session, error) {
	if g.opts.Bearer != nil {
		if raw, ok := bearer.FromRequest(r); ok {
			return g.identifyBearer(r, st, raw)
		}
	}
	sess, err := g.opts.Sessions.Load(r)
	switch {
	case err == nil:
	case errors.Is(err, session.ErrUnavailable):
		g.opts.Metrics.StoreError("load")
		return nil, nil, &httpError{status: errStoreDown.status, msg: errStoreDown.msg, err: err}
	case errors.Is(err, session.ErrNoSession):
		return nil, nil, nil
	case errors.Is(err, session.ErrInvalid):
		// A cookie that fails its signature or decoding, or conflicting
		// copies of it, is a security event (tampering, cookie tossing, a
		// key retired too early): logged at the default level, never the
		// cookie itself. It is not cleared, unlike oauth2-proxy: when a
		// sibling subdomain planted a Domain cookie next to the user's own,
		// clearing could expire only the user's and leave the planted one
		// to log the browser in as the attacker.
		g.log.InfoContext(r.Context(), "session cookie rejected", "request_id", requestID(r.Context()), "client_ip", st.trusted.ClientIP(r).String(), "error", err)
		return nil, nil, nil
	default:
		g.log.DebugContext(r.Context(), "session rejected", "request_id", requestID(r.Context()), "error", err)
		return nil, nil, nil
	}
	if sess.Identity == nil {
		return nil, nil, nil
	}
	id, changed, exists := g.localCurrent(sess.Identity)
	if !exists {
		// A local user removed from the users file is signed out at once.
		g.log.InfoContext(r.Context(), "session of a removed local user ended", "request_id", requestID(r.Context()), "subject", sess.Identity.Subject)
		_ = g.opts.Sessions.Clear(w, r)
		return nil, nil, nil
	}
	if changed {
		// The users file changed the user's email or groups: a demoted
		// administrator must not keep `groups:` access for the rest of the
		// session. The session takes the file's values and is saved again,
		// so the next request finds them already in place.
		sess.Identity = id
		sess.Reissue = true
		// Debug: behind an ingress that drops the re-issued cookie this
		// repeats on every request of the session.
		g.log.DebugContext(r.Context(), "local user's email or groups changed in the users file; session updated", "request_id", requestID(r.Context()), "subject", id.Subject)
	}
	if g.refreshDue(st, sess) {
		refreshed, err := g.refresh(w, r, st, sess)
		if err != nil {
			return nil, nil, err
		}
		if refreshed == nil {
			return nil, nil, nil
		}
		sess = refreshed
	} else if sess.Reissue {
		if err := g.opts.Sessions.Save(w, r, sess); err != nil {
			g.log.WarnContext(r.Context(), "re-issue session cookie", "request_id", requestID(r.Context()), "error", err)
		}
	}
	return st.derived.of(sess.Identity), sess, nil
}

// localAccounts is the local provider's view of the users file as it is now.
type localAccounts interface {
	Current(subject string) (email string, groups []string, ok bool)
}

// proxyRequest is proxy mode: normalise, identify, decide, act.
func (g *Gateway) proxyRequest(w http.ResponseWriter, r *http.Request) {
	if err := g.serveProxy(w, r); err != nil {
		g.renderError(w, r, err)
	}
}

func (g *Gateway) serveProxy(w http.ResponseWriter, r *http.Request) error {
	st := g.state.Load()
	if !policy.ValidMethod(r.Method) {
		return badRequest("Invalid request method.", nil)
	}
	path, err := policy.NormalizePath(r.URL.EscapedPath())
	if err != nil {
		return badRequest("Invalid request path.", err)
	}
	host := policy.CanonicalHost(r.Host)
	judged := st.policy.FoldPath(path) // what routing and the rules compare; path is what the upstream gets
	up := st.upstreams.match(host, judged)
	if up == nil {
		return newHTTPError(http.StatusNotFound, "No application is configured for this address.", nil)
	}
	who, sess, err := g.identify(w, r, st)
	if err != nil {
		return err
	}
	id := who.identity()
	dec := st.policy.Decide(id, policy.Request{Method: r.Method, Host: host, Path: judged})
	recordDecision(r, dec, id)
	switch dec.Result {
	case policy.Login:
		return g.requireLogin(w, r, st, host, path)
	case policy.Forbid:
		return errForbidden
	}
	trusted := st.trusted.PeerTrusted(r)
	scheme := forwarded.SchemeOf(r, trusted)
	pc := &proxyContext{gw: g, who: who, sess: sess, path: path, scheme: scheme, trusted: trusted, bearer: auditOf(r.Context()).bearer, upstream: up.name()}
	if id != nil {
		pc.assertion = g.assertionFor(r, id, sess, host)
	}
	// The rewrite and error handlers find pc in the request's audit record:
	// no context values of its own, no copy of the request.
	auditOf(r.Context()).proxy = pc
	if isUpgrade(r) {
		// After a 101 the connection is a raw tunnel to the upstream: no
		// rules, no header stripping. WebSocket messages are not requests,
		// but h2c (or any other protocol) would carry new requests through
		// it unjudged, so only WebSocket is let through.
		if up := r.Header.Values("Upgrade"); len(up) != 1 || !strings.EqualFold(strings.TrimSpace(up[0]), "websocket") {
			return badRequest("Only WebSocket upgrades are supported.", fmt.Errorf("upgrade %q", up))
		}
		if !sameOriginOrAllowed(r, st, scheme) {
			return newHTTPError(http.StatusForbidden, "Cross-origin WebSocket connections are not allowed.", fmt.Errorf("websocket: origin %q", r.Header.Get("Origin")))
		}
		// An upgraded connection outlives the request: end it when the
		// session ends (ReverseProxy closes the tunnel when ctx is done):
		// at its expiry, and when it is signed out, revoked or no longer
		// allowed (watchTunnel).
		end := time.Time{}
		if sess != nil {
			end = sess.ExpiresAt
		} else if id != nil {
			end = id.Expiry // a bearer token's exp
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		if !end.IsZero() {
			ctx, cancel = context.WithDeadline(ctx, end)
			defer cancel()
		}
		defer g.watchTunnel(r, cancel, host, path, id, sess != nil)()
		r = r.WithContext(ctx)
	}
	if up.demo {
		// The built-in demo app gets the same headers a real upstream would.
		removeGatewayCookies(r, session.CookieName(st.cfg.Session.Cookie))
		headers.StripForwarding(r.Header, pc.trusted) // identity headers went at the door
		setEscapedPath(r.URL, path)
		if id != nil {
			who.hdr.SetIdentity(r.Header)
			if pc.assertion != "" {
				r.Header.Set(headers.Assertion, pc.assertion)
			}
		}
	}
	up.proxy.ServeHTTP(w, r)
	return nil
}

// requireLogin answers an anonymous request to a protected resource: API
// clients get a JSON 401, browsers a redirect to the sign-in page that
// remembers where they were going.
func (g *Gateway) requireLogin(w http.ResponseWriter, r *http.Request, st *state, host, path string) error {
	if wantsJSON(r) || r.Method != http.MethodGet && r.Method != http.MethodHead {
		return errUnauthorized
	}
	rd := path
	if r.URL.RawQuery != "" {
		rd += "?" + r.URL.RawQuery
	}
	target := st.prefix + "/sign_in"
	if host != st.public.host {
		rd = st.trusted.Scheme(r) + "://" + host + rd
		target = st.public.String() + target
	}
	if _, ok := st.redirects.Check(rd); !ok {
		rd = "/"
	}
	http.Redirect(w, r, target+"?rd="+url.QueryEscape(rd), http.StatusFound)
	return nil
}

// recordDecision puts the decision into the request's audit record, which
// the access log writes as one line.
func recordDecision(r *http.Request, dec policy.Decision, id *identity.Identity) {
	a := auditOf(r.Context())
	a.decision, a.rule, a.reason = dec.Result.String(), dec.Rule, dec.Reason
	if id != nil {
		a.provider, a.subject, a.email = id.Provider, id.Subject, id.Email
	}
}

func isUpgrade(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" && headerHasToken(r.Header, "Connection", "upgrade")
}

func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// sameOriginOrAllowed checks a WebSocket handshake's Origin (cross-site
// WebSocket hijacking): it must be the request's own origin, or a host
// gatehouse may redirect to. Non-browser clients send no Origin.
func sameOriginOrAllowed(r *http.Request, st *state, scheme string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) && (u.Scheme == scheme || u.Scheme == "https") {
		return true
	}
	_, ok := st.redirects.Check(u.Scheme + "://" + u.Host + "/")
	return ok
}

// localCurrent is id as the users file has it now. For a local user whose
// email or groups changed there, it is a fresh copy with the file's values
// (changed); ok is false when the user was removed. Any other identity comes
// back as it is.
func (g *Gateway) localCurrent(id *identity.Identity) (cur *identity.Identity, changed, ok bool) {
	local, isLocal := g.opts.Local.(localAccounts)
	if !isLocal || id.Provider != g.opts.Local.ID() {
		return id, false, true
	}
	email, groups, exists := local.Current(id.Subject)
	if !exists {
		return nil, false, false
	}
	if email == id.Email && slices.Equal(groups, id.Groups) {
		return id, false, true
	}
	cur = id.Clone()
	cur.Email, cur.EmailVerified, cur.Groups = email, email != "", slices.Clone(groups)
	return cur, true, true
}

// identifyBearer authenticates an API client by its JWT. A bad token is a
// 401 with WWW-Authenticate: Bearer error="invalid_token" — never a fallback
// to the cookie, never a redirect.
func (g *Gateway) identifyBearer(r *http.Request, st *state, raw string) (*derived, *session.Session, error) {
	id, err := g.opts.Bearer.Verify(r.Context(), raw)
	switch {
	case err == nil:
	case errors.Is(err, bearer.ErrUnavailable):
		return nil, nil, newHTTPError(http.StatusServiceUnavailable, "The token issuer's keys are unavailable. Please try again shortly.", err)
	default:
		// A security event (a forged, foreign or stale token), logged at
		// warn like a failed login: the 401's own line is only at debug.
		g.log.WarnContext(r.Context(), "bearer token rejected", "request_id", requestID(r.Context()),
			"client_ip", st.trusted.ClientIP(r).String(), "error", err)
		return nil, nil, &httpError{status: http.StatusUnauthorized, msg: "The bearer token is invalid.", err: err, bearerErr: "invalid_token"}
	}
	auditOf(r.Context()).bearer = true
	// Verify hands out a fresh Identity per call: nothing to share.
	return derive(st.policy, id), nil, nil
}

// assertionFor signs (or reuses) the identity assertion for this request;
// aud is the host the user asked for, without its port.
func (g *Gateway) assertionFor(r *http.Request, id *identity.Identity, sess *session.Session, host string) string {
	if g.opts.Assertion == nil {
		return ""
	}
	aud := policy.HostWithoutPort(host)
	if sess != nil && !id.Expiry.Equal(sess.ExpiresAt) {
		// Sessions from before the identity took the session's expiry
		// carried their first access token's: assert for the session.
		cp := *id
		cp.Expiry = sess.ExpiresAt
		id = &cp
	}
	// Per session; bearer callers have none, so per user (For checks that
	// every asserted claim is unchanged before reusing a token).
	var key string
	if sess != nil {
		key = sess.ID
	} else {
		key = id.Provider + "\x00" + id.Subject
	}
	tok, err := g.opts.Assertion.For(id, aud, key)
	if err != nil {
		g.log.WarnContext(r.Context(), "sign identity assertion", "request_id", requestID(r.Context()), "error", err)
		return ""
	}
	return tok
}
