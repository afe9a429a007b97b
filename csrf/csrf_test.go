package csrf

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
)

const (
	testSecret = "0123456789abcdef0123456789abcdef"
	testCookie = "_gatehouse_csrf"
)

func newGuard(t *testing.T, secret string) *Guard {
	t.Helper()
	g, err := New(secret, config.Cookie{Domain: "example.com"}, testCookie)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// issue runs Token for a browser without a cookie and returns the cookie it
// set and the form token.
func issue(t *testing.T, g *Guard) (*http.Cookie, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	tok := g.Token(rec, httptest.NewRequest(http.MethodGet, "https://auth.example.com/sign_in", nil))
	cks := rec.Result().Cookies()
	if len(cks) != 1 {
		t.Fatalf("Token set %d cookies, want 1", len(cks))
	}
	return cks[0], tok
}

// post builds a same-origin form POST carrying body and, if ck is not nil,
// the token cookie.
func post(body string, ck *http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "https://auth.example.com/sign_in", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	if ck != nil {
		r.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	return r
}

func TestCheck(t *testing.T) {
	g := newGuard(t, testSecret)
	ck, tok := issue(t, g)
	otherCk, otherTok := issue(t, g)
	_, foreignTok := issue(t, newGuard(t, "another secret, another key......"))
	form := url.Values{Field: {tok}, "username": {"carol"}}.Encode()

	tests := []struct {
		name string
		req  func() *http.Request
		want error // nil: accepted
	}{
		{"valid token", func() *http.Request { return post(form, ck) }, nil},
		{"valid token, no fetch metadata (non-browser client)", func() *http.Request {
			r := post(form, ck)
			r.Header.Del("Sec-Fetch-Site")
			return r
		}, nil},
		{"same-site, not same-origin (a sibling subdomain)", func() *http.Request {
			r := post(form, ck)
			r.Header.Set("Sec-Fetch-Site", "same-site")
			return r
		}, ErrCrossOrigin},
		{"cross-site Sec-Fetch-Site", func() *http.Request {
			r := post(form, ck)
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			return r
		}, ErrCrossOrigin},
		{"foreign Origin without fetch metadata", func() *http.Request {
			r := post(form, ck)
			r.Header.Del("Sec-Fetch-Site")
			r.Header.Set("Origin", "https://evil.example.net")
			return r
		}, ErrCrossOrigin},
		{"missing cookie", func() *http.Request { return post(form, nil) }, ErrMissing},
		{"missing token", func() *http.Request { return post("username=carol", ck) }, ErrMismatch},
		{"wrong token", func() *http.Request { return post(Field+"=AAAA", ck) }, ErrMismatch},
		{"token of another cookie", func() *http.Request { return post(Field+"="+otherTok, ck) }, ErrMismatch},
		{"cookie of another token", func() *http.Request { return post(form, otherCk) }, ErrMismatch},
		{"token from another secret", func() *http.Request { return post(Field+"="+foreignTok, ck) }, ErrMismatch},
		{"token in the query string only", func() *http.Request {
			r := post("username=carol", ck)
			r.URL.RawQuery = url.Values{Field: {tok}}.Encode()
			return r
		}, ErrMismatch},
		{"oversized body", func() *http.Request {
			return post(form+"&pad="+strings.Repeat("a", MaxFormBytes), ck)
		}, ErrTooLarge},
		{"unreadable form", func() *http.Request { return post(form+"&bad=%zz", ck) }, ErrBadForm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := g.Check(httptest.NewRecorder(), tt.req())
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
			for _, other := range []error{ErrCrossOrigin, ErrMissing, ErrMismatch, ErrTooLarge, ErrBadForm} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("Check = %v: also matches %v", err, other)
				}
			}
		})
	}
}

func TestCheckParsesForm(t *testing.T) {
	g := newGuard(t, testSecret)
	ck, tok := issue(t, g)
	r := post(url.Values{Field: {tok}, "username": {"carol"}}.Encode(), ck)
	if err := g.Check(httptest.NewRecorder(), r); err != nil {
		t.Fatal(err)
	}
	if got := r.PostForm.Get("username"); got != "carol" {
		t.Errorf("PostForm username = %q after Check, want carol", got)
	}
}

func TestCheckTooLargeWrapsMaxBytesError(t *testing.T) {
	g := newGuard(t, testSecret)
	ck, _ := issue(t, g)
	err := g.Check(httptest.NewRecorder(), post(strings.Repeat("a", MaxFormBytes+1), ck))
	if _, ok := errors.AsType[*http.MaxBytesError](err); !ok {
		t.Errorf("Check = %v, want it to wrap *http.MaxBytesError", err)
	}
}

func TestTokenCookie(t *testing.T) {
	g := newGuard(t, testSecret)
	ck, tok := issue(t, g)
	tests := []struct {
		name string
		ok   bool
	}{
		{"name", ck.Name == testCookie},
		{"HttpOnly", ck.HttpOnly},
		{"Secure by default", ck.Secure},
		{"SameSite=Strict", ck.SameSite == http.SameSiteStrictMode},
		{"Path=/", ck.Path == "/"},
		{"Domain from config", ck.Domain == "example.com"},
		{"session cookie (no expiry)", ck.MaxAge == 0 && ck.Expires.IsZero()},
		{"value is 32 random bytes", len(ck.Value) == cookieValueLen},
		{"token is not the cookie value", tok != ck.Value && tok != ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok {
				t.Errorf("token cookie %+v", ck)
			}
		})
	}

	insecure := false
	g2, err := New(testSecret, config.Cookie{Secure: &insecure}, testCookie)
	if err != nil {
		t.Fatal(err)
	}
	if ck2, _ := issue(t, g2); ck2.Secure {
		t.Error("Secure set with cookie.secure: false")
	}
}

func TestTokenReusesCookie(t *testing.T) {
	g := newGuard(t, testSecret)
	ck, tok := issue(t, g)
	tests := []struct {
		name      string
		value     string
		sameToken bool // else a new cookie is set
	}{
		{"well-formed cookie", ck.Value, true},
		{"short cookie", "abc", false},
		{"long cookie", ck.Value + "x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(&http.Cookie{Name: testCookie, Value: tt.value})
			got := g.Token(rec, r)
			setCookie := len(rec.Result().Cookies()) > 0
			if (got == tok) != tt.sameToken || setCookie == tt.sameToken {
				t.Errorf("same token = %v, set a cookie = %v; want same token %v", got == tok, setCookie, tt.sameToken)
			}
		})
	}
}

// TestSameSecretSameKey: another Guard from the same secret (a restart, a
// replica) accepts the tokens of the first.
func TestSameSecretSameKey(t *testing.T) {
	ck, tok := issue(t, newGuard(t, testSecret))
	if err := newGuard(t, testSecret).Check(httptest.NewRecorder(), post(Field+"="+tok, ck)); err != nil {
		t.Errorf("Check with a second Guard: %v", err)
	}
}

func TestRenew(t *testing.T) {
	g := newGuard(t, testSecret)
	oldCk, oldTok := issue(t, g)
	rec := httptest.NewRecorder()
	newTok := g.Renew(rec)
	cks := rec.Result().Cookies()
	if len(cks) != 1 || cks[0].Value == oldCk.Value || newTok == oldTok {
		t.Fatalf("Renew did not replace the cookie: %v", cks)
	}
	if err := g.Check(httptest.NewRecorder(), post(Field+"="+oldTok, cks[0])); !errors.Is(err, ErrMismatch) {
		t.Errorf("pre-renewal token with the new cookie: %v, want ErrMismatch", err)
	}
	if err := g.Check(httptest.NewRecorder(), post(Field+"="+newTok, cks[0])); err != nil {
		t.Errorf("new token: %v", err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name, secret, cookie string
		ok                   bool
	}{
		{"valid", testSecret, testCookie, true},
		{"empty secret", "", testCookie, false},
		{"empty cookie name", testSecret, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := New(tt.secret, config.Cookie{}, tt.cookie)
			if (err == nil) != tt.ok || (g != nil) != tt.ok {
				t.Errorf("New = %v, %v; want ok %v", g, err, tt.ok)
			}
		})
	}
}
