// Package csrf protects gatehouse's own HTML forms (local sign-in, sign-out)
// against cross-site request forgery with two independent checks: Go's
// http.CrossOriginProtection (Sec-Fetch-Site, else Origin against Host) and
// a signed double-submit token. The token is the HMAC of a random value
// kept in an HttpOnly, SameSite=Strict cookie; the form must send the HMAC
// back in the field named Field. The cookie is set before any login, so
// login CSRF is covered too; Renew replaces it after a login so that a
// token seen before cannot be used afterwards.
package csrf

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
)

// Field is the form field that carries the token.
const Field = "csrf"

// MaxFormBytes bounds the request body Check reads to parse the form.
const MaxFormBytes = 64 << 10

// Errors Check returns, each wrapped with the detail. ErrCrossOrigin,
// ErrMissing and ErrMismatch mean the request must be refused as forged (or
// stale); ErrTooLarge and ErrBadForm mean the form could not be read.
var (
	ErrCrossOrigin = errors.New("csrf: cross-origin request")
	ErrMissing     = errors.New("csrf: token cookie missing")
	ErrMismatch    = errors.New("csrf: token mismatch, potential attack")
	ErrTooLarge    = errors.New("csrf: form too large")
	ErrBadForm     = errors.New("csrf: form unreadable")
)

// cookieValueLen is the length of a cookie value Renew sets (32 random
// bytes, unpadded base64url); Token replaces a cookie of any other length.
const cookieValueLen = 43

// Guard issues and checks tokens. It is safe for concurrent use and holds
// no per-request state.
type Guard struct {
	key        []byte
	cookieName string
	cookie     config.Cookie
	origin     *http.CrossOriginProtection
}

// New returns a Guard whose HMAC key is derived (HKDF-SHA256) from secret,
// so the same secret yields the same key across restarts and replicas, and
// the key is independent of anything else derived from that secret. The
// token cookie is named cookieName and takes Domain and Secure from cookie
// (it is always HttpOnly, SameSite=Strict, Path=/). New fails on an empty
// secret.
func New(secret string, cookie config.Cookie, cookieName string) (*Guard, error) {
	if secret == "" {
		return nil, errors.New("csrf: empty secret")
	}
	if cookieName == "" {
		return nil, errors.New("csrf: empty cookie name")
	}
	key := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, []byte(secret), nil, []byte("gatehouse csrf v1")), key); err != nil {
		return nil, fmt.Errorf("csrf: derive key: %w", err)
	}
	return &Guard{
		key:        key,
		cookieName: cookieName,
		cookie:     cookie,
		origin:     http.NewCrossOriginProtection(),
	}, nil
}

func (g *Guard) sign(v string) string {
	m := hmac.New(sha256.New, g.key)
	m.Write([]byte(v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Token returns the token to put in a form for this browser: derived from
// its token cookie, or from a fresh one that Token sets on w when the
// request has none (or one of the wrong shape). Call it before writing
// the response body.
func (g *Guard) Token(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(g.cookieName); err == nil && len(ck.Value) == cookieValueLen {
		return g.sign(ck.Value)
	}
	return g.Renew(w)
}

// Renew sets a fresh token cookie on w and returns its token. Every token
// issued for the previous cookie stops matching once the browser stores
// the new one; call it after a login (and a sign-out).
func (g *Guard) Renew(w http.ResponseWriter) string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	v := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{
		Name: g.cookieName, Value: v, Path: "/", Domain: g.cookie.Domain,
		HttpOnly: true, Secure: g.cookie.SecureOrDefault(), SameSite: http.SameSiteStrictMode,
	})
	return g.sign(v)
}

// Check reports whether r, a state-changing form submission, may proceed.
// It refuses a request the browser marks as cross-origin (ErrCrossOrigin)
// before reading the body; then parses the form, reading at most
// MaxFormBytes of body through http.MaxBytesReader on w (ErrTooLarge,
// ErrBadForm); then requires the token cookie (ErrMissing) and that the
// form's Field equals its HMAC, compared in constant time (ErrMismatch).
// Only a form body counts: the token in a query string is ignored, so a GET
// (which the cross-origin check lets through) always fails with
// ErrMismatch. After Check, r.PostForm is parsed.
func (g *Guard) Check(w http.ResponseWriter, r *http.Request) error {
	if err := g.origin.Check(r); err != nil {
		return fmt.Errorf("%w: %w", ErrCrossOrigin, err)
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return fmt.Errorf("%w: %w", ErrTooLarge, mbe)
		}
		return fmt.Errorf("%w: %w", ErrBadForm, err)
	}
	ck, err := r.Cookie(g.cookieName)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMissing, err)
	}
	if !hmac.Equal([]byte(g.sign(ck.Value)), []byte(r.PostForm.Get(Field))) {
		return ErrMismatch
	}
	return nil
}
