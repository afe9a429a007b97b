package proxy

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/session"
)

// tunnelCheckInterval is how often an open WebSocket tunnel checks that the
// session it was opened under still exists and is still allowed.
const tunnelCheckInterval = 5 * time.Second

// watchTunnel ends an upgraded connection (through cancel, which ends the
// proxied request's context) once the session it was opened with has ended:
// signed out, revoked or replaced (Redis), its local user removed from the
// users file; or once the current rules no longer allow it, whoever opened
// it (a session, a bearer token's identity id, or an anonymous caller on a
// public path). The deadline at the session's absolute expiry (or the
// token's) is set by the caller. The returned stop ends the watch; call it
// when the tunnel closes.
func (g *Gateway) watchTunnel(r *http.Request, cancel context.CancelFunc, host, path string, id *identity.Identity, hasSession bool) (stop func()) {
	// A copy of the handshake (its cookies): the proxy may change r's
	// headers while the watch reads them.
	probe := r.Clone(r.Context())
	done := make(chan struct{})
	ticks, stopTicks := g.opts.TunnelChecks, func() {}
	if ticks == nil {
		t := time.NewTicker(tunnelCheckInterval)
		ticks, stopTicks = t.C, t.Stop
	}
	go func() {
		defer stopTicks()
		for {
			select {
			case <-done:
				return
			case <-probe.Context().Done():
				return
			case <-ticks:
			}
			if why := g.tunnelEnded(probe, host, path, id, hasSession); why != "" {
				g.log.InfoContext(probe.Context(), "websocket closed", "request_id", requestID(probe.Context()), "reason", why)
				cancel()
				return
			}
		}
	}()
	return func() { close(done) }
}

// tunnelEnded says why a tunnel opened by r must close, or "" while it may
// stay. With a session: a store that cannot answer keeps the tunnel (the
// session may well be live, and every new request gets the 503), and an
// expired session is left to the absolute-expiry deadline (the handshake's
// cookie carries the idle clock of the handshake, not of the user's
// activity since). Without one, the handshake's identity (a bearer token's,
// or none) is judged again by the current rules.
func (g *Gateway) tunnelEnded(r *http.Request, host, path string, handshake *identity.Identity, hasSession bool) string {
	id := handshake
	if hasSession {
		sess, err := g.opts.Sessions.Load(r)
		switch {
		case err == nil:
		case errors.Is(err, session.ErrUnavailable), errors.Is(err, session.ErrExpired):
			return ""
		default:
			return "session ended"
		}
		if sess.Identity == nil {
			return "session ended"
		}
		cur, _, exists := g.localCurrent(sess.Identity)
		if !exists {
			return "local user removed"
		}
		id = cur
	}
	st := g.state.Load()
	var who *identity.Identity
	if id != nil {
		// derive, not the shared cache: id may be a fresh copy every time,
		// and roles follow the current config.
		who = derive(st.policy, id).identity()
	}
	if dec := st.policy.Decide(who, policy.Request{Method: r.Method, Host: host, Path: st.policy.FoldPath(path)}); dec.Result != policy.Allow {
		return "no longer allowed: " + dec.Reason
	}
	return ""
}
