package proxy

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/metrics"
	"github.com/gatehouse-dev/gatehouse/providers"
	"github.com/gatehouse-dev/gatehouse/session"
)

// sessionLocker is implemented by stores shared between replicas (Redis):
// the replica that gets the lock refreshes; the others wait and re-read.
type sessionLocker interface {
	Lock(ctx context.Context, s *session.Session, ttl time.Duration) (unlock func(), ok bool, err error)
}

// flights makes concurrent refreshes of one session in this process
// collapse into one call to the provider (a tiny singleflight).
type flights struct {
	mu      sync.Mutex
	m       map[[32]byte]*flight
	failing map[[32]byte]time.Time // first failed refresh, by flight key
	pruned  time.Time              // last sweep of failing
}

// failingSince records a failed refresh of key at now and returns when its
// refreshes began failing. An entry outlives the session it ended: a copy
// of that session's cookie, replayed, must end at once rather than start a
// fresh grace. So entries go only when a refresh succeeds, or once older
// than keep (the session lifetime: no session that old is still valid),
// swept at most once a minute.
func (fs *flights) failingSince(key [32]byte, now time.Time, keep time.Duration) time.Time {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if t, ok := fs.failing[key]; ok {
		return t
	}
	if fs.failing == nil {
		fs.failing = map[[32]byte]time.Time{}
	}
	if now.Sub(fs.pruned) >= time.Minute {
		for k, t := range fs.failing {
			if now.Sub(t) > keep {
				delete(fs.failing, k)
			}
		}
		fs.pruned = now
	}
	fs.failing[key] = now
	return now
}

// recovered forgets key's failures: its refresh succeeded.
func (fs *flights) recovered(key [32]byte) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	delete(fs.failing, key)
}

type flight struct {
	done     chan struct{}
	sess     *session.Session
	err      error
	finished time.Time
}

// flightMemory is how long a finished refresh is remembered. Requests that
// still carry the pre-refresh cookie (a browser's parallel requests, or one
// that started just before the new cookie arrived) reuse its result instead
// of presenting an already-rotated refresh token, which the provider would
// reject as invalid_grant and so end the session.
const flightMemory = time.Minute

// refreshGrace bounds how long a session is kept while the provider's token
// endpoint keeps failing (5xx, timeouts, unreachable), counted from the
// first failed refresh of that session in this process. Refresh is where a
// disabled account or a group change reaches the session, so an outage must
// not keep a session on stale claims for its whole lifetime (oauth2-proxy
// ends it at the first failed refresh of an expired token); a short outage,
// or one blip when an idle user comes back, should sign nobody out.
const refreshGrace = time.Hour

// refreshDue reports whether the session's access token is within
// refresh_before of expiring and can be refreshed.
func (g *Gateway) refreshDue(st *state, sess *session.Session) bool {
	return sess.Tokens.RefreshToken != "" && !sess.Tokens.Expiry.IsZero() &&
		!g.now().Before(sess.Tokens.Expiry.Add(-st.cfg.Session.Refresh))
}

// refresh renews the session's tokens through the provider's refresh token,
// exactly once however many requests arrive at the same time, and re-reads
// the identity so group changes take effect. A fatal refresh error
// (invalid_grant) ends the session: it returns (nil, nil). A transient error
// keeps the session as it is, and the next request tries again, until its
// refreshes have been failing for refreshGrace: then it ends the session.
func (g *Gateway) refresh(w http.ResponseWriter, r *http.Request, st *state, sess *session.Session) (*session.Session, error) {
	p, ok := g.provByID[sess.Identity.Provider]
	if !ok {
		return sess, nil
	}
	rf, ok := p.(providers.Refresher)
	if !ok {
		return sess, nil
	}
	key := sha256.Sum256([]byte(sess.Identity.Provider + "\x00" + sess.Tokens.RefreshToken))
	now := g.now()
	g.flights.mu.Lock()
	if g.flights.m == nil {
		g.flights.m = map[[32]byte]*flight{}
	}
	for k, f := range g.flights.m {
		if !f.finished.IsZero() && now.Sub(f.finished) > flightMemory {
			delete(g.flights.m, k)
		}
	}
	if f, ok := g.flights.m[key]; ok {
		g.flights.mu.Unlock()
		select {
		case <-f.done:
		case <-r.Context().Done():
			return sess, nil // the client left; nothing will read the answer
		}
		return g.afterFlight(w, r, f)
	}
	f := &flight{done: make(chan struct{})}
	g.flights.m[key] = f
	g.flights.mu.Unlock()

	f.sess, f.err = g.doRefresh(r, st, sess, rf, key)
	g.flights.mu.Lock()
	if f.err != nil {
		delete(g.flights.m, key) // store down: the next request tries again
	} else {
		// Success, end, or a transient provider failure (f.sess == sess):
		// remembered for flightMemory, which is also the retry backoff.
		f.finished = g.now()
	}
	g.flights.mu.Unlock()
	close(f.done)
	return g.afterFlight(w, r, f)
}

// afterFlight writes the flight's outcome to this response: the new cookie
// (cookie mode needs it on every response that may win the race in the
// browser), or a cleared one when the session ended.
func (g *Gateway) afterFlight(w http.ResponseWriter, r *http.Request, f *flight) (*session.Session, error) {
	if f.err != nil {
		return nil, f.err
	}
	if f.sess == nil {
		_ = g.opts.Sessions.Clear(w, r)
		return nil, nil
	}
	// Every waiter gets its own copy: Save writes into the session it is given.
	sess := *f.sess
	if _, shared := g.opts.Sessions.(sessionLocker); !shared {
		if err := g.opts.Sessions.Save(w, r, &sess); err != nil {
			g.log.WarnContext(r.Context(), "save refreshed session", "request_id", requestID(r.Context()), "error", err)
		}
	}
	return &sess, nil
}

func (g *Gateway) doRefresh(r *http.Request, st *state, sess *session.Session, rf providers.Refresher, key [32]byte) (*session.Session, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 15*time.Second)
	defer cancel()
	if locker, ok := g.opts.Sessions.(sessionLocker); ok && sess.ID != "" {
		unlock, got, err := locker.Lock(ctx, sess, 20*time.Second)
		if err != nil {
			return nil, &httpError{status: errStoreDown.status, msg: errStoreDown.msg, err: err}
		}
		if !got {
			return g.waitForOtherReplica(ctx, r, sess)
		}
		defer unlock()
		// Another replica may have refreshed between our load and our lock.
		if cur, err := g.opts.Sessions.Load(r); err == nil && cur.Tokens.RefreshToken != sess.Tokens.RefreshToken {
			return cur, nil
		}
	}
	old := &oauth2.Token{AccessToken: sess.Tokens.AccessToken, RefreshToken: sess.Tokens.RefreshToken, Expiry: sess.Tokens.Expiry}
	id, tok, err := rf.Refresh(ctx, old)
	if err != nil {
		if errors.Is(err, providers.ErrRefreshFatal) || errors.Is(err, providers.ErrDenied) || errors.Is(err, providers.ErrInvalidToken) {
			// Refresh is where group, domain and account changes take effect:
			// a user the provider now refuses, or an answer that fails
			// verification, ends the session.
			g.opts.Metrics.Refresh(sess.Identity.Provider, metrics.OutcomeDenied)
			g.log.InfoContext(r.Context(), "refresh rejected; session ended", "request_id", requestID(r.Context()), "provider", sess.Identity.Provider, "subject", sess.Identity.Subject, "error", err)
			return nil, nil
		}
		g.opts.Metrics.Refresh(sess.Identity.Provider, metrics.OutcomeError)
		now := g.now()
		keep := max(st.cfg.Session.Lifetime, 2*refreshGrace)
		if since := g.flights.failingSince(key, now, keep); now.Sub(since) >= refreshGrace {
			g.log.WarnContext(r.Context(), "refresh failing for too long; session ended", "request_id", requestID(r.Context()), "provider", sess.Identity.Provider, "subject", sess.Identity.Subject, "failing_since", since, "error", err)
			return nil, nil
		}
		g.log.WarnContext(r.Context(), "refresh failed; keeping the session", "request_id", requestID(r.Context()), "provider", sess.Identity.Provider, "error", err)
		return sess, nil
	}
	next := *sess
	if id != nil {
		if id.Subject != sess.Identity.Subject {
			g.log.WarnContext(r.Context(), "refresh returned another subject; session ended", "request_id", requestID(r.Context()), "provider", sess.Identity.Provider)
			return nil, nil
		}
		id.MFA = sess.Identity.MFA
		id.Expiry = sess.ExpiresAt // as at sign-in: the session's, not the new token's
		next.Identity = id
	}
	next.Tokens.Expiry = tok.Expiry
	if tok.RefreshToken != "" {
		next.Tokens.RefreshToken = tok.RefreshToken
	}
	if sess.Tokens.AccessToken != "" {
		next.Tokens.AccessToken = tok.AccessToken
	}
	if raw, ok := tok.Extra("id_token").(string); ok && sess.Tokens.IDToken != "" {
		next.Tokens.IDToken = raw
	}
	// Save before anyone can use the old refresh token again (rotation).
	if _, shared := g.opts.Sessions.(sessionLocker); shared {
		if err := g.opts.Sessions.Save(discardWriter{}, r, &next); err != nil {
			if errors.Is(err, session.ErrNoSession) {
				return nil, nil // revoked while we refreshed
			}
			return nil, &httpError{status: errStoreDown.status, msg: errStoreDown.msg, err: err}
		}
	}
	g.flights.recovered(key)
	g.opts.Metrics.Refresh(sess.Identity.Provider, metrics.OutcomeSuccess)
	g.log.InfoContext(r.Context(), "session refreshed", "request_id", requestID(r.Context()), "provider", sess.Identity.Provider, "subject", sess.Identity.Subject)
	return &next, nil
}

// waitForOtherReplica polls the shared store until the replica holding the
// lock has saved the refreshed session, or gives up and keeps the old one.
func (g *Gateway) waitForOtherReplica(ctx context.Context, r *http.Request, sess *session.Session) (*session.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return sess, nil
		case <-t.C:
		}
		cur, err := g.opts.Sessions.Load(r)
		switch {
		case errors.Is(err, session.ErrUnavailable):
			return nil, &httpError{status: errStoreDown.status, msg: errStoreDown.msg, err: err}
		case err != nil:
			return nil, nil // ended by the other replica
		case cur.Tokens.RefreshToken != sess.Tokens.RefreshToken || cur.Tokens.Expiry.After(sess.Tokens.Expiry):
			return cur, nil
		}
	}
}

// discardWriter is a ResponseWriter for saving a server-side session whose
// cookie (the ticket) does not change.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}
