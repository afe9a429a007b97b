package session_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/session"
	"github.com/gatehouse-dev/gatehouse/session/sessiontest"
)

const oldFuzzSecret = "session-old-secret-0123456789abcdef!"

// cookieHeader joins the jar's cookies the way a browser sends them.
func cookieHeader(j *sessiontest.Jar) string {
	return j.Request("/").Header.Get("Cookie")
}

// anonymous reports whether err is one of the outcomes Load may give for a
// request that carries no usable session.
func anonymous(err error) bool {
	return errors.Is(err, session.ErrNoSession) || errors.Is(err, session.ErrInvalid) || errors.Is(err, session.ErrExpired)
}

// FuzzCookieStoreLoad feeds arbitrary Cookie headers to CookieStore.Load.
// Load must never panic, must fail only with ErrNoSession, ErrInvalid or
// ErrExpired, and may succeed only with a session this test sealed and that
// is still alive: no mutation of a cookie, no moved chunk, no case-folded
// name opens as a session.
func FuzzCookieStoreLoad(f *testing.F) {
	start := time.Now().Truncate(time.Second)
	clk := sessiontest.NewClock(start)
	st := newCookieStore(f, testConfig(testSecret, oldFuzzSecret), clk.Now)
	// IDs of sessions sealed here that open at start. They are fixed, not
	// random, because the fuzzing workers are separate processes that each
	// run this setup and exchange inputs sealed by one another.
	valid := map[string]bool{}
	n := 0
	seal := func(store *session.CookieStore, s *session.Session, alive bool) string {
		n++
		s.ID = fmt.Sprintf("fuzz-session-%d", n)
		var j sessiontest.Jar
		sessiontest.Save(f, store, &j, s)
		if alive {
			valid[s.ID] = true
		}
		return cookieHeader(&j)
	}
	small := seal(st, sessiontest.Sample(start), true)
	chunked := seal(st, bigSession(150), true)
	rotated := seal(newCookieStore(f, testConfig(oldFuzzSecret), clk.Now), sessiontest.Sample(start), true)
	past := sessiontest.NewClock(start.Add(-200 * time.Hour))
	expired := seal(newCookieStore(f, testConfig(), past.Now), sessiontest.Sample(past.Now()), false)
	foreign := seal(newCookieStore(f, testConfig("another-secret-0123456789abcdef-xyz"), clk.Now), sessiontest.Sample(start), false)

	name, value, _ := strings.Cut(small, "=")
	firstChunk, _, _ := strings.Cut(chunked, ";")
	_, chunkValue, _ := strings.Cut(firstChunk, "=")
	for _, s := range []string{
		"", small, chunked, rotated, expired, foreign,
		"theme=dark; " + small + "; lang=en",
		name + "=junk; " + small,
		small + "; " + name + "=junk",
		strings.ToLower(name) + "=" + value,
		"__Secure-_gatehouse=" + value,
		name + "=" + value[:len(value)/2],
		name + "=" + value + "A",
		name + "=" + strings.Replace(value, value[10:11], "x", 1),
		name + "=" + strings.ReplaceAll(value, "-", "+"),
		name + "=\"" + value + "\"",
		name + "=" + chunkValue,
		strings.Replace(chunked, name+"_1=", name+"_9=", 1),
		strings.Replace(chunked, name+"_0=", name+"_x=", 1),
		name + "_0=" + value,
		name + "_0=" + value + "; " + name + "_1=" + value,
		name + "=" + strings.Repeat("A", 40000),
		name + "=; " + name + "_0=",
		";;;===; ;" + name,
		name + "=%00%ff",
		name + "=" + value + "\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodGet, "https://app.example.com/", nil)
		r.Header.Set("Cookie", header)
		s, err := st.Load(r)
		if err != nil {
			if !anonymous(err) {
				t.Fatalf("Load(%q): error %v is not ErrNoSession, ErrInvalid or ErrExpired", header, err)
			}
			if s != nil {
				t.Fatalf("Load(%q) returned a session with error %v", header, err)
			}
			return
		}
		if s == nil || s.Identity == nil {
			t.Fatalf("Load(%q) succeeded without a session or identity", header)
		}
		if !valid[s.ID] {
			t.Fatalf("Load(%q) opened session %q, which this test never sealed (or which had ended)", header, s.ID)
		}
		if !clk.Now().Before(s.ExpiresAt) {
			t.Fatalf("Load(%q) returned a session that ended at %v", header, s.ExpiresAt)
		}
	})
}

// FuzzLoginStatesTake feeds arbitrary Cookie headers and state parameters to
// LoginStates.Take. It must never panic, must fail only with ErrNoSession
// (or ErrInvalid/ErrExpired), may succeed only for a state this test Put and
// only when the callback's state equals the sealed one, and may only ever
// expire cookies, never set one.
func FuzzLoginStatesTake(f *testing.F) {
	start := time.Now().Truncate(time.Second)
	clk := sessiontest.NewClock(start)
	l, err := session.NewLoginStates(testConfig(), session.Options{Now: clk.Now})
	if err != nil {
		f.Fatalf("NewLoginStates: %v", err)
	}
	put := map[string]bool{}
	var j sessiontest.Jar
	for _, s := range []string{"state-A", "state-B", "state-C"} {
		rec := httptest.NewRecorder()
		if err := l.Put(rec, j.Request("/oauth2/start"), sampleState(s)); err != nil {
			f.Fatalf("Put: %v", err)
		}
		j.Update(rec)
		put[s] = true
	}
	jar := cookieHeader(&j)
	names := j.Names()
	va, _ := j.Get(names[0])
	vb, _ := j.Get(names[1])
	for _, s := range [][2]string{
		{jar, "state-A"}, {jar, "state-B"}, {jar, "state-C"}, {jar, "state-D"}, {jar, ""},
		{names[0] + "=" + vb, "state-A"}, // B's value under A's name
		{names[1] + "=" + va, "state-B"},
		{strings.ToLower(names[0]) + "=" + va, "state-A"},
		{names[0] + "=" + va[:len(va)-3], "state-A"},
		{names[0] + "=junk; " + names[0] + "=" + va, "state-A"},
		{names[0] + "=" + va, "state-A\x00"},
		{names[0] + "=" + va, "STATE-A"},
		{"", "state-A"},
		{names[0] + "=" + strings.Repeat("Q", 5000), "state-A"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, header, state string) {
		r := httptest.NewRequest(http.MethodGet, "https://auth.example.com/oauth2/callback", nil)
		r.Header.Set("Cookie", header)
		rec := httptest.NewRecorder()
		got, err := l.Take(rec, r, state)
		for _, c := range rec.Result().Cookies() {
			if c.MaxAge >= 0 || c.Value != "" {
				t.Fatalf("Take(%q, %q) set a cookie instead of expiring it: %v", header, state, c)
			}
		}
		if err != nil {
			if !anonymous(err) {
				t.Fatalf("Take(%q, %q): error %v is not ErrNoSession, ErrInvalid or ErrExpired", header, state, err)
			}
			return
		}
		if got == nil || got.State != state || !put[state] {
			t.Fatalf("Take(%q, %q) returned %+v, which this test never Put for that state", header, state, got)
		}
		if got.Nonce != "nonce-"+state || got.Provider != "corp" {
			t.Fatalf("Take(%q, %q) returned a state with another's contents: %+v", header, state, got)
		}
	})
}
