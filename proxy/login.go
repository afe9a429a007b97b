package proxy

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/lockout"
	"github.com/gatehouse-dev/gatehouse/metrics"
	"github.com/gatehouse-dev/gatehouse/providers"
	"github.com/gatehouse-dev/gatehouse/redact"
	"github.com/gatehouse-dev/gatehouse/session"
)

const maxPasswordBytes = 1024

// messages the sign-in page shows for ?msg=…; anything else shows nothing.
var signInMessages = map[string]string{
	"signed_out": "You have been signed out.",
	"expired":    "Your sign-in took too long or was started in another browser. Please try again.",
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// safeRedirect returns rd if the one redirect validator accepts it, else "/".
// A refused target is logged redacted like the access log's query: it is
// often the very URL the visitor asked for (forward-auth builds it from
// X-Forwarded-Uri), tokens in its query included.
func (g *Gateway) safeRedirect(r *http.Request, st *state, rd string) string {
	if rd == "" {
		return "/"
	}
	if target, ok := st.redirects.Check(rd); ok {
		return target
	}
	g.log.WarnContext(r.Context(), "rejected redirect target", "request_id", requestID(r.Context()), "rd", redact.URL(rd))
	return "/"
}

func (g *Gateway) signInPage(w http.ResponseWriter, r *http.Request) error {
	st := g.state.Load()
	// SECURITY.md A025: whoever opens the sign-in page is about to become
	// someone; a session the browser still carries (perhaps planted) ends
	// here, server-side too, rather than survive beside the new sign-in.
	if err := g.opts.Sessions.Clear(w, r); err != nil {
		g.log.WarnContext(r.Context(), "end the session on the sign-in page", "request_id", requestID(r.Context()), "error", err)
	}
	rd := g.safeRedirect(r, st, r.URL.Query().Get("rd"))
	g.renderSignIn(w, r, st, http.StatusOK, rd, signInMessages[r.URL.Query().Get("msg")], "")
	return nil
}

func (g *Gateway) renderSignIn(w http.ResponseWriter, r *http.Request, st *state, status int, rd, info, errMsg string) {
	data := signInPage{base: g.base(r), Redirect: rd, Info: info, Error: errMsg}
	if errMsg != "" && r.PostForm != nil {
		// The same message for every failure, so re-filling reveals nothing.
		data.Username = r.PostForm.Get("username")
	}
	for _, p := range g.opts.Providers {
		data.Providers = append(data.Providers, providerButton{
			Name: p.DisplayName(),
			URL:  st.prefix + "/start?provider=" + p.ID() + "&rd=" + urlQueryEscape(rd),
		})
	}
	if g.opts.Local != nil {
		data.Local = true
		data.LocalName = localFormName(g.opts.Local)
		data.CSRF = g.csrf.Token(w, r)
		data.OTP = true
		if t, ok := g.opts.Local.(interface{ UsesTOTP() bool }); ok {
			data.OTP = t.UsesTOTP()
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	g.renderTemplate(w, "sign_in.html", data)
}

// localFormName is the heading of the password form: the local provider's
// name (providers[].name, documented as its form label) when the config sets
// one, else "". Config fills an unset name with a default derived from the
// id ("Local" for the id local), and a heading saying only that would be
// noise on every deployment that never asked for one, so the default, like
// an empty name or the bare id of a provider built in code, adds no heading
// and the form keeps its plain look. The default is computed by config's own
// SetDefaults rather than copied here, so the two cannot drift apart; the
// cost is that a name set to exactly the default also shows no heading.
func localFormName(p providers.PasswordAuthenticator) string {
	name := p.DisplayName()
	if name == "" || name == p.ID() || name == config.DefaultProviderName(p.ID(), "local") {
		return ""
	}
	return name
}

// start begins a redirect login: fresh state, nonce and PKCE verifier, kept
// in an encrypted login-state cookie bound to this browser.
func (g *Gateway) start(w http.ResponseWriter, r *http.Request) error {
	st := g.state.Load()
	p, ok := g.provByID[r.URL.Query().Get("provider")]
	if !ok {
		if len(g.opts.Providers) != 1 || r.URL.Query().Get("provider") != "" {
			return badRequest("Unknown sign-in method.", nil)
		}
		p = g.opts.Providers[0]
	}
	ls := &session.LoginState{
		Provider: p.ID(),
		State:    randomToken(),
		Nonce:    randomToken(),
		Verifier: oauth2.GenerateVerifier(),
		Redirect: g.safeRedirect(r, st, r.URL.Query().Get("rd")),
		Issued:   g.now(),
	}
	authURL := p.AuthCodeURL(ls.State, ls.Nonce, ls.Verifier, g.callbackURL(st))
	if authURL == "" {
		// The provider is not ready (discovery has not succeeded yet).
		return newHTTPError(http.StatusServiceUnavailable, "The identity provider is unavailable. Please try again shortly.", fmt.Errorf("start: provider %q not ready", p.ID()))
	}
	if err := g.opts.LoginStates.Put(w, r, ls); err != nil {
		if errors.Is(err, session.ErrTooLarge) {
			return badRequest("The address you were going to is too long.", err)
		}
		return fmt.Errorf("start: save login state: %w", err)
	}
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, authURL, http.StatusFound)
	return nil
}

func (g *Gateway) callbackURL(st *state) string {
	return st.public.String() + st.prefix + "/callback"
}

// callback finishes a redirect login. The login state is single-use: it is
// cleared before anything else happens, whatever the outcome.
func (g *Gateway) callback(w http.ResponseWriter, r *http.Request) error {
	st := g.state.Load()
	q := r.URL.Query()
	ls, err := g.opts.LoginStates.Take(w, r, q.Get("state"))
	if err != nil {
		g.log.WarnContext(r.Context(), "login state missing or invalid", "request_id", requestID(r.Context()), "error", err)
		return badRequest(signInMessages["expired"], err)
	}
	p, ok := g.provByID[ls.Provider]
	if !ok {
		return badRequest("Unknown sign-in method.", nil)
	}
	// RFC 9207 (mix-up defence, RFC 9700 §2.1): an answer, error answers
	// included, naming an issuer must name the one the login went to, and
	// one from a provider without an issuer identifier (GitHub) must name
	// none; a provider that promises the parameter must send it.
	if err := checkIssParam(p, q); err != nil {
		return badRequest("The sign-in answer came from the wrong identity provider.", err)
	}
	if e := q.Get("error"); e != "" {
		// The provider refused the login (access_denied, …): a failed
		// login like any other. Its error_description is neither shown
		// nor logged; the code (RFC 6749: a short ASCII word) is logged
		// quoted and cut to 64 bytes.
		if len(e) > 64 {
			e = e[:64]
		}
		err := fmt.Errorf("callback: provider error %q", e)
		g.log.WarnContext(r.Context(), "login failed", "request_id", requestID(r.Context()), "provider", p.ID(), "error", err)
		g.opts.Metrics.Login(p.ID(), metrics.OutcomeFailure)
		return newHTTPError(http.StatusForbidden, "The identity provider did not complete the sign-in.", err)
	}
	code := q.Get("code")
	if code == "" {
		return badRequest("The sign-in answer was incomplete.", nil)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	id, tok, err := p.Exchange(ctx, code, ls.Verifier, ls.Nonce, g.callbackURL(st))
	if err != nil {
		g.log.WarnContext(r.Context(), "login failed", "request_id", requestID(r.Context()), "provider", p.ID(), "error", err)
		g.opts.Metrics.Login(p.ID(), loginOutcome(err))
		return loginError(err)
	}
	g.opts.Metrics.Login(p.ID(), metrics.OutcomeSuccess)
	if err := g.startSession(w, r, st, id, tok); err != nil {
		return err
	}
	g.log.InfoContext(r.Context(), "login", "request_id", requestID(r.Context()), "provider", p.ID(), "subject", id.Subject)
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, ls.Redirect, http.StatusFound)
	return nil
}

func loginOutcome(err error) string {
	switch {
	case errors.Is(err, providers.ErrDenied):
		return metrics.OutcomeDenied
	case errors.Is(err, providers.ErrInvalidToken), errors.Is(err, providers.ErrInvalidCredentials):
		return metrics.OutcomeFailure
	}
	return metrics.OutcomeError
}

func loginError(err error) error {
	switch {
	case errors.Is(err, providers.ErrDenied):
		return newHTTPError(http.StatusForbidden, "Your account is not permitted to sign in here.", err)
	case errors.Is(err, providers.ErrUnavailable):
		return newHTTPError(http.StatusServiceUnavailable, "The identity provider is unavailable. Please try again shortly.", err)
	case errors.Is(err, providers.ErrInvalidToken):
		return newHTTPError(http.StatusBadRequest, "The identity provider's answer could not be verified.", err)
	}
	return newHTTPError(http.StatusBadGateway, "Sign-in failed. Please try again.", err)
}

// checkIssParam applies RFC 9207 to a callback's query for provider p.
func checkIssParam(p providers.Provider, q url.Values) error {
	vals, sent := q["iss"]
	ip, named := p.(providers.Issuer)
	switch {
	case sent && !named:
		return fmt.Errorf("callback: iss %q for provider %q, which has no issuer identifier", vals[0], p.ID())
	case sent && (len(vals) != 1 || vals[0] != ip.IssuerURL()):
		return fmt.Errorf("callback: iss %q is not %q", vals, ip.IssuerURL())
	case !sent && named:
		if r, ok := p.(interface{ IssuerParameterRequired() bool }); ok && r.IssuerParameterRequired() {
			return fmt.Errorf("callback: no iss, though %q promises it", ip.IssuerURL())
		}
	}
	return nil
}

// startSession issues a brand-new session (never reusing a pre-login ID) and
// a new CSRF token.
func (g *Gateway) startSession(w http.ResponseWriter, r *http.Request, st *state, id *identity.Identity, tok *oauth2.Token) error {
	// Whole seconds, as the store stamps them, so that Identity.Expiry below
	// equals the saved ExpiresAt exactly.
	created := g.now().UTC().Truncate(time.Second)
	sess := &session.Session{Identity: id, CreatedAt: created, ExpiresAt: created.Add(st.cfg.Session.Lifetime)}
	// A provider's identity expires with its access token; a session's lives
	// as long as the session (refresh renews the tokens, not the person). The
	// assertion is capped at Identity.Expiry, so it must not vanish when an
	// access token without a refresh token runs out.
	id.Expiry = sess.ExpiresAt
	if tok != nil {
		sess.Tokens.RefreshToken = tok.RefreshToken
		sess.Tokens.Expiry = tok.Expiry
		if g.keepAccessToken(st) {
			sess.Tokens.AccessToken = tok.AccessToken
		}
		if g.keepIDToken(st) {
			if raw, ok := tok.Extra("id_token").(string); ok {
				sess.Tokens.IDToken = raw
			}
		}
	}
	if err := g.opts.Sessions.Save(w, r, sess); err != nil {
		if errors.Is(err, session.ErrTooLarge) {
			return newHTTPError(http.StatusInternalServerError, "Your account has too many groups to fit in a session cookie. Ask the administrator to switch to Redis sessions.", err)
		}
		if errors.Is(err, session.ErrUnavailable) {
			return &httpError{status: errStoreDown.status, msg: errStoreDown.msg, err: err}
		}
		return fmt.Errorf("save session: %w", err)
	}
	g.csrf.Renew(w)
	return nil
}

// Tokens are kept only when an upstream needs them, to keep cookies small.
func (g *Gateway) keepAccessToken(st *state) bool {
	for _, u := range st.cfg.Upstreams {
		if u.PassAccessToken {
			return true
		}
	}
	return false
}

func (g *Gateway) keepIDToken(st *state) bool {
	for _, u := range st.cfg.Upstreams {
		if u.PassIDToken {
			return true
		}
	}
	return false
}

// localLogin checks a username, password and optional one-time code. Every
// failure looks the same to the client — wrong password, unknown user and a
// locked account alike; the log says which.
func (g *Gateway) localLogin(w http.ResponseWriter, r *http.Request) error {
	st := g.state.Load()
	if g.opts.Local == nil {
		return errNotFound
	}
	rd := g.safeRedirect(r, st, r.PostForm.Get("rd"))
	user, password, otp := r.PostForm.Get("username"), r.PostForm.Get("password"), r.PostForm.Get("otp")
	if len(password) > maxPasswordBytes || len(user) > 256 || len(otp) > 16 {
		return badRequest("The username or password is too long.", nil)
	}
	ctx := r.Context()
	ip := st.trusted.ClientIP(r)
	account := lockout.Canonical(user)
	if c, ok := g.opts.Local.(interface{ Canonical(string) string }); ok {
		account = c.Canonical(user)
	}
	logFailure := func(reason string, err error) {
		g.log.WarnContext(ctx, "local login failed", "request_id", requestID(ctx), "provider", g.opts.Local.ID(),
			"account", account, "client_ip", ip.String(), "reason", reason, "error", err)
	}
	refuse := func() error {
		g.renderSignIn(w, r, st, http.StatusUnauthorized, rd, "", "Invalid username or password.")
		return nil
	}
	// Begin reserves this attempt's place under the account's and the
	// address's thresholds before the password is hashed, in one atomic
	// step per key. Checking locks first and counting the failure only
	// after the hash let every request of a parallel burst through the
	// check before the first failure landed: all of them got their guess.
	var attempt *lockout.Attempt // nil without a Limiter: its methods do nothing
	if lim := g.opts.Limiter; lim != nil {
		a, v, err := lim.Begin(ctx, account, ip)
		if err != nil {
			return newHTTPError(http.StatusServiceUnavailable, "Sign-in is unavailable. Please try again shortly.", err)
		}
		if !v.Allowed {
			logFailure(v.Reason, nil)
			g.opts.Metrics.Login(g.opts.Local.ID(), metrics.OutcomeLocked)
			return refuse()
		}
		attempt = a
	}
	// cancel frees the reservation of an attempt that checked no password.
	cancel := func() {
		if err := attempt.Cancel(ctx); err != nil {
			g.log.WarnContext(ctx, "release login reservation", "request_id", requestID(ctx), "error", err)
		}
	}
	var id *identity.Identity
	var authErr error
	authenticate := func() { id, authErr = g.opts.Local.Authenticate(ctx, user, password, otp) }
	if g.opts.Hashing != nil {
		if err := g.opts.Hashing.Do(ctx, authenticate); err != nil {
			cancel()
			if errors.Is(err, lockout.ErrBusy) {
				w.Header().Set("Retry-After", "2")
			}
			return newHTTPError(http.StatusServiceUnavailable, "Sign-in is busy. Please try again.", err)
		}
	} else {
		authenticate()
	}
	if authErr != nil {
		g.opts.Metrics.Login(g.opts.Local.ID(), loginOutcome(authErr))
		if !errors.Is(authErr, providers.ErrInvalidCredentials) {
			// Not a verdict on the password (the local provider returns
			// only the request's context error before hashing).
			cancel()
			return loginError(authErr)
		}
		if v, err := attempt.Fail(ctx); err != nil {
			g.log.WarnContext(ctx, "record failed login", "request_id", requestID(ctx), "error", err)
		} else if !v.Allowed {
			g.log.WarnContext(ctx, "lockout", "request_id", requestID(ctx), "account", account, "client_ip", ip.String(), "reason", v.Reason, "until", v.Until)
		}
		logFailure("invalid credentials", authErr)
		return refuse()
	}
	if err := attempt.Succeed(ctx); err != nil {
		g.log.WarnContext(ctx, "reset login failures", "request_id", requestID(ctx), "error", err)
	}
	g.opts.Metrics.Login(g.opts.Local.ID(), metrics.OutcomeSuccess)
	if err := g.startSession(w, r, st, id, nil); err != nil {
		return err
	}
	g.log.InfoContext(ctx, "login", "request_id", requestID(ctx), "provider", g.opts.Local.ID(), "subject", id.Subject, "mfa", id.MFA)
	// 303, never 307: the browser must not re-send the credentials.
	http.Redirect(w, r, rd, http.StatusSeeOther)
	return nil
}
