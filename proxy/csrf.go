package proxy

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"

	"golang.org/x/crypto/hkdf"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/session"
)

// csrfGuard protects gatehouse's own forms (local sign-in, sign-out) with two
// independent checks: Go's cross-origin protection (Sec-Fetch-Site / Origin)
// and a signed double-submit token — a random value in an HttpOnly cookie
// whose HMAC must come back in the form. The token exists before login, so
// login CSRF is covered too; it is replaced after every successful login.
type csrfGuard struct {
	key        []byte
	cookieName string
	cookie     config.Cookie
	origin     *http.CrossOriginProtection
}

const csrfField = "csrf"

func newCSRFGuard(cfg *config.Config) (*csrfGuard, error) {
	if len(cfg.Session.Secrets) == 0 {
		return nil, errors.New("proxy: no session secret for CSRF tokens")
	}
	key := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, []byte(cfg.Session.Secrets[0]), nil, []byte("gatehouse csrf v1")), key); err != nil {
		return nil, fmt.Errorf("proxy: derive CSRF key: %w", err)
	}
	return &csrfGuard{
		key:        key,
		cookieName: session.CookieName(cfg.Session.Cookie) + "_csrf",
		cookie:     cfg.Session.Cookie,
		origin:     http.NewCrossOriginProtection(),
	}, nil
}

func (c *csrfGuard) sign(v string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// token returns the form token for this browser, setting the cookie if needed.
func (c *csrfGuard) token(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(c.cookieName); err == nil && len(ck.Value) == 43 {
		return c.sign(ck.Value)
	}
	return c.renew(w)
}

// renew sets a fresh cookie (after login, so a pre-login token is dead).
func (c *csrfGuard) renew(w http.ResponseWriter) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	v := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{
		Name: c.cookieName, Value: v, Path: "/", Domain: c.cookie.Domain,
		HttpOnly: true, Secure: c.cookie.SecureOrDefault(), SameSite: http.SameSiteStrictMode,
	})
	return c.sign(v)
}

var errCSRF = newHTTPError(http.StatusForbidden, "The form expired or came from another site. Please go back, reload the page and try again.", nil)

// protect rejects a state-changing request without a valid token.
func (c *csrfGuard) protect(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := c.origin.Check(r); err != nil {
			return &httpError{status: errCSRF.status, msg: errCSRF.msg, err: fmt.Errorf("csrf: cross-origin request: %w", err)}
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return newHTTPError(http.StatusRequestEntityTooLarge, "The form is too large.", err)
			}
			return badRequest("The form could not be read.", err)
		}
		ck, err := r.Cookie(c.cookieName)
		if err != nil {
			return &httpError{status: errCSRF.status, msg: errCSRF.msg, err: errors.New("csrf: token cookie missing")}
		}
		want := c.sign(ck.Value)
		if !hmac.Equal([]byte(want), []byte(r.PostForm.Get(csrfField))) {
			return &httpError{status: errCSRF.status, msg: errCSRF.msg, err: errors.New("csrf: token mismatch, potential attack")}
		}
		return h(w, r)
	}
}
