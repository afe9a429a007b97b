package proxy

import (
	"errors"

	"encoding/json"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/session"
	"net/http"
	"net/url"
	"time"
)

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// signOutPage asks for confirmation: a GET must never end a session (a
// cross-site image tag could otherwise log people out).
func (g *Gateway) signOutPage(w http.ResponseWriter, r *http.Request) error {
	st := g.state.Load()
	data := signOutPage{
		base:     g.base(r),
		Redirect: g.safeRedirect(r, st, r.URL.Query().Get("rd")),
		CSRF:     g.csrf.Token(w, r),
	}
	if who, _, err := g.identify(w, r, st); err == nil && who != nil {
		data.User = who.id.UserName()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	g.renderTemplate(w, "sign_out.html", data)
	return nil
}

// signOut ends the session (server-side too, for Redis) and clears cookies.
func (g *Gateway) signOut(w http.ResponseWriter, r *http.Request) error {
	st := g.state.Load()
	if err := g.opts.Sessions.Clear(w, r); err != nil {
		if errors.Is(err, session.ErrUnavailable) {
			// Not revoked, so the cookie stays: signing out again works.
			return &httpError{status: errStoreDown.status, msg: "The session store is unavailable, so you are still signed in. Please sign out again shortly.", err: err}
		}
		return fmt.Errorf("sign out: %w", err)
	}
	g.csrf.Renew(w)
	w.Header().Set("Clear-Site-Data", `"cookies"`)
	rd := r.PostForm.Get("rd")
	if rd == "" {
		rd = r.URL.Query().Get("rd") // POST sign_out?rd=URL, as DESIGN.md writes it
	}
	target := st.prefix + "/sign_in?msg=signed_out"
	if rd != "" && rd != "/" {
		target = g.safeRedirect(r, st, rd)
	}
	g.log.InfoContext(r.Context(), "sign out", "request_id", requestID(r.Context()))
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// userinfo returns who the caller is — never their tokens.
func (g *Gateway) userinfo(w http.ResponseWriter, r *http.Request) error {
	st := g.state.Load()
	who, sess, err := g.identify(w, r, st)
	if err != nil {
		return err
	}
	id := who.identity()
	if id == nil {
		return errUnauthorized
	}
	out := struct {
		Provider          string    `json:"provider"`
		Subject           string    `json:"subject"`
		User              string    `json:"user"`
		Email             string    `json:"email,omitempty"`
		PreferredUsername string    `json:"preferred_username,omitempty"`
		Name              string    `json:"name,omitempty"`
		Groups            []string  `json:"groups"`
		Roles             []string  `json:"roles"`
		MFA               bool      `json:"mfa"`
		Expires           time.Time `json:"session_expires"`
	}{id.Provider, id.Subject, id.UserName(), id.Email, id.PreferredUsername, id.Name, nonNil(id.Groups), nonNil(id.Roles), id.MFA, id.Expiry}
	if sess != nil {
		out.Expires = sess.ExpiresAt
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(out)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
