// Package sessiontest is the conformance suite every session.Store must
// pass, and a small cookie jar for driving stores through httptest.
package sessiontest

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testclock"
)

// Jar is a minimal browser cookie jar for one origin: it applies Set-Cookie
// headers (a non-positive Max-Age deletes) and sends what it holds, in the
// order the cookies were first set. It matches names exactly, as user
// agents store them.
type Jar struct {
	cookies []*http.Cookie
}

// Update applies the Set-Cookie headers of a recorded response.
func (j *Jar) Update(rec *httptest.ResponseRecorder) {
	for _, c := range rec.Result().Cookies() {
		i := slices.IndexFunc(j.cookies, func(h *http.Cookie) bool { return h.Name == c.Name })
		switch {
		case c.MaxAge < 0:
			if i >= 0 {
				j.cookies = slices.Delete(j.cookies, i, i+1)
			}
		case i >= 0:
			j.cookies[i] = c
		default:
			j.cookies = append(j.cookies, c)
		}
	}
}

// Get returns the value of the cookie named name and whether the jar has it.
func (j *Jar) Get(name string) (string, bool) {
	for _, c := range j.cookies {
		if c.Name == name {
			return c.Value, true
		}
	}
	return "", false
}

// Names lists the cookies held.
func (j *Jar) Names() []string {
	var out []string
	for _, c := range j.cookies {
		out = append(out, c.Name)
	}
	return out
}

// Request returns a GET request for target carrying the jar's cookies.
func (j *Jar) Request(target string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	if len(j.cookies) > 0 {
		var parts []string
		for _, c := range j.cookies {
			parts = append(parts, c.Name+"="+c.Value)
		}
		r.Header.Set("Cookie", strings.Join(parts, "; "))
	}
	return r
}

// WithCookie returns a GET request carrying exactly the raw Cookie header h.
func WithCookie(h string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://app.example.com/", nil)
	if h != "" {
		r.Header.Set("Cookie", h)
	}
	return r
}

// SetCookies returns the raw Set-Cookie header lines of rec.
func SetCookies(rec *httptest.ResponseRecorder) []string {
	return rec.Result().Header.Values("Set-Cookie")
}

// Clock is a manual clock for injecting into stores as Options.Now.
type Clock = testclock.Clock

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return testclock.New(t) }
