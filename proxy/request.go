package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/session"
)

var errStoreDown = newHTTPError(http.StatusServiceUnavailable, "The session store is unavailable. Please try again shortly.", nil)

// identify loads the caller's session. It returns (nil, nil, nil) for an
// anonymous caller and an error only when it must fail closed (store down);
// a bad, expired or foreign cookie is simply anonymous, never a 500.
func (g *Gateway) identify(w http.ResponseWriter, r *http.Request, st *state) (*identity.Identity, *session.Session, error) {
	sess, err := g.opts.Sessions.Load(r)
	switch {
	case err == nil:
	case errors.Is(err, session.ErrUnavailable):
		return nil, nil, &httpError{status: errStoreDown.status, msg: errStoreDown.msg, err: err}
	case errors.Is(err, session.ErrNoSession):
		return nil, nil, nil
	default:
		g.log.DebugContext(r.Context(), "session rejected", "request_id", requestID(r.Context()), "error", err)
		return nil, nil, nil
	}
	if sess.Identity == nil {
		return nil, nil, nil
	}
	if sess.Reissue {
		if err := g.opts.Sessions.Save(w, r, sess); err != nil {
			g.log.WarnContext(r.Context(), "re-issue session cookie", "request_id", requestID(r.Context()), "error", err)
		}
	}
	id := sess.Identity.Clone()
	id.Roles = st.policy.Roles(id)
	return id, sess, nil
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
	up := st.upstreams.match(host, path)
	if up == nil {
		return newHTTPError(http.StatusNotFound, "No application is configured for this address.", nil)
	}
	id, sess, err := g.identify(w, r, st)
	if err != nil {
		return err
	}
	dec := st.policy.Decide(id, policy.Request{Method: r.Method, Host: host, Path: path})
	switch dec.Result {
	case policy.Login:
		return g.requireLogin(w, r, st, host, path)
	case policy.Forbid:
		g.log.InfoContext(r.Context(), "access denied", "request_id", requestID(r.Context()), "rule", dec.Rule, "reason", dec.Reason)
		return errForbidden
	}
	scheme := st.trusted.requestScheme(r)
	pc := &proxyContext{id: id, sess: sess, path: path, scheme: scheme, trusted: st.trusted.peerTrusted(r)}
	ctx := context.WithValue(r.Context(), proxyCtxKey{}, pc)
	ctx = context.WithValue(ctx, gatewayCtxKey{}, g)
	if up.demo {
		// The built-in demo app gets the same headers a real upstream would.
		removeGatewayCookies(r, session.CookieName(st.cfg.Session.Cookie))
		setEscapedPath(r.URL, path)
		if id != nil {
			setIdentityHeaders(r.Header, id)
		}
	}
	up.proxy.ServeHTTP(w, r.WithContext(ctx))
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
		rd = st.trusted.requestScheme(r) + "://" + host + rd
		target = st.public.String() + target
	}
	if _, ok := st.redirects.Check(rd); !ok {
		rd = "/"
	}
	http.Redirect(w, r, target+"?rd="+url.QueryEscape(rd), http.StatusFound)
	return nil
}
