package session_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/session"
	"github.com/gatehouse-dev/gatehouse/session/sessiontest"
)

func newLoginStates(t *testing.T, cfg config.Session, now func() time.Time) *session.LoginStates {
	t.Helper()
	l, err := session.NewLoginStates(cfg, session.Options{Now: now})
	if err != nil {
		t.Fatalf("NewLoginStates: %v", err)
	}
	return l
}

func put(t *testing.T, l *session.LoginStates, j *sessiontest.Jar, st *session.LoginState) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := l.Put(rec, j.Request("/oauth2/start"), st); err != nil {
		t.Fatalf("Put: %v", err)
	}
	j.Update(rec)
	return rec
}

func take(l *session.LoginStates, j *sessiontest.Jar, state string) (*session.LoginState, *httptest.ResponseRecorder, error) {
	rec := httptest.NewRecorder()
	st, err := l.Take(rec, j.Request("/oauth2/callback"), state)
	j.Update(rec)
	return st, rec, err
}

func sampleState(state string) *session.LoginState {
	return &session.LoginState{
		Provider: "corp", State: state, Nonce: "nonce-" + state,
		Verifier: "verifier-0123456789-0123456789-0123456789-012", Redirect: "https://app.example.com/x?y=1",
	}
}

var loginName = regexp.MustCompile(`^__Host-_gatehouse_login_[0-9a-f]{8}$`)

func TestLoginStateRoundTrip(t *testing.T) {
	clk := sessiontest.NewClock(time.Now())
	cfg := testConfig()
	cfg.Cookie.Domain = "example.com" // login state stays host-only regardless
	cfg.Cookie.SameSite = "strict"    // and Lax regardless
	l := newLoginStates(t, cfg, clk.Now)
	var j sessiontest.Jar
	rec := put(t, l, &j, sampleState("state-1"))
	raw := sessiontest.SetCookies(rec)
	if len(raw) != 1 {
		t.Fatalf("Set-Cookie = %q", raw)
	}
	c := rec.Result().Cookies()[0]
	if !loginName.MatchString(c.Name) {
		t.Errorf("cookie name %q", c.Name)
	}
	for _, want := range []string{"Path=/", "Max-Age=600", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(raw[0], want) {
			t.Errorf("Set-Cookie %q lacks %q", raw[0], want)
		}
	}
	if strings.Contains(raw[0], "Domain=") {
		t.Errorf("login state has a Domain: %q", raw[0])
	}

	clk.Advance(9 * time.Minute)
	got, rec, err := take(l, &j, "state-1")
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	want := sampleState("state-1")
	if got.Provider != want.Provider || got.Nonce != want.Nonce || got.Verifier != want.Verifier ||
		got.Redirect != want.Redirect || got.State != want.State || got.Issued.IsZero() {
		t.Errorf("Take = %+v, want %+v", got, want)
	}
	if cl := rec.Result().Cookies(); len(cl) != 1 || cl[0].Name != c.Name || cl[0].MaxAge >= 0 {
		t.Errorf("Take did not expire %s: %q", c.Name, sessiontest.SetCookies(rec))
	}
	if _, _, err := take(l, &j, "state-1"); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("second Take = %v, want ErrNoSession", err)
	}
}

func TestLoginStateRejects(t *testing.T) {
	clk := sessiontest.NewClock(time.Now())
	l := newLoginStates(t, testConfig(), clk.Now)
	var j sessiontest.Jar
	put(t, l, &j, sampleState("state-a"))
	name := j.Names()[0]
	v, _ := j.Get(name)

	// The name for state-b, learnt by putting it in a scratch jar.
	var scratch sessiontest.Jar
	put(t, l, &scratch, sampleState("state-b"))
	nameB := scratch.Names()[0]

	sess := newCookieStore(t, testConfig(), clk.Now)
	var sj sessiontest.Jar
	sessiontest.Save(t, sess, &sj, sessiontest.Sample(clk.Now()))
	sv, _ := sj.Get(sess.Name())

	other := newLoginStates(t, testConfig(sessiontest.OtherSecret), clk.Now)
	var oj sessiontest.Jar
	put(t, other, &oj, sampleState("state-a"))
	ov, _ := oj.Get(name)

	flip := []byte(v)
	flip[len(flip)/2] ^= 1
	tests := []struct {
		name, cookie, state string
	}{
		{"no cookie", "", "state-a"},
		{"empty state", name + "=" + v, ""},
		{"other state", name + "=" + v, "state-b"},
		{"value moved to another state's name", nameB + "=" + v, "state-b"},
		{"flipped", name + "=" + string(flip), "state-a"},
		{"truncated", name + "=" + v[:len(v)-4], "state-a"},
		{"session cookie value", name + "=" + sv, "state-a"},
		{"other secret", name + "=" + ov, "state-a"},
		{"huge", name + "=" + strings.Repeat("A", 50000), "state-a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			st, err := l.Take(rec, sessiontest.WithCookie(tt.cookie), tt.state)
			if st != nil || !errors.Is(err, session.ErrNoSession) {
				t.Errorf("Take = %+v, %v; want ErrNoSession", st, err)
			}
		})
	}
	t.Run("expired, and still cleared", func(t *testing.T) {
		clk.Advance(session.LoginStateTTL + time.Second)
		st, rec, err := take(l, &j, "state-a")
		if st != nil || !errors.Is(err, session.ErrNoSession) {
			t.Errorf("Take after 10m = %+v, %v", st, err)
		}
		if raw := strings.Join(sessiontest.SetCookies(rec), ""); !strings.Contains(raw, name+"=; Path=/; Max-Age=0") {
			t.Errorf("expired login state not cleared: %q", raw)
		}
	})
}

// TestLoginStateParallel: several tabs may log in at once; beyond four the
// oldest cookies are expired so the Cookie header stays bounded.
func TestLoginStateParallel(t *testing.T) {
	clk := sessiontest.NewClock(time.Now())
	l := newLoginStates(t, testConfig(), clk.Now)
	var j sessiontest.Jar
	for i := range 3 {
		put(t, l, &j, sampleState(fmt.Sprint("tab-", i)))
		clk.Advance(time.Second)
	}
	if _, _, err := take(l, &j, "tab-1"); err != nil {
		t.Fatalf("Take tab-1 among three: %v", err)
	}
	for i := 3; i < 10; i++ {
		put(t, l, &j, sampleState(fmt.Sprint("tab-", i)))
		clk.Advance(time.Second)
		if n := len(j.Names()); n > 4 {
			t.Fatalf("after tab-%d the jar holds %d login cookies", i, n)
		}
	}
	for _, s := range []string{"tab-6", "tab-7", "tab-8", "tab-9"} {
		if _, _, err := take(l, &j, s); err != nil {
			t.Errorf("Take %s: %v", s, err)
		}
	}
	for _, s := range []string{"tab-0", "tab-2", "tab-5"} {
		if _, _, err := take(l, &j, s); !errors.Is(err, session.ErrNoSession) {
			t.Errorf("Take %s = %v, want it pruned", s, err)
		}
	}
}

// TestLoginStatePruneInvalid: garbage under a login-state name is expired by
// the next Put; unrelated cookies are left alone.
func TestLoginStatePruneInvalid(t *testing.T) {
	l := newLoginStates(t, testConfig(), time.Now)
	rec := httptest.NewRecorder()
	r := sessiontest.WithCookie("__Host-_gatehouse_login_deadbeef=junk; __Host-_gatehouse_login_x=keep; theme=dark")
	if err := l.Put(rec, r, sampleState("s")); err != nil {
		t.Fatal(err)
	}
	var expired []string
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			expired = append(expired, c.Name)
		}
	}
	if !slices.Equal(expired, []string{"__Host-_gatehouse_login_deadbeef"}) {
		t.Errorf("expired %v", expired)
	}
}

func TestLoginStateRotationAndLimits(t *testing.T) {
	clk := sessiontest.NewClock(time.Now())
	var j sessiontest.Jar
	put(t, newLoginStates(t, testConfig(sessiontest.OldSecret), clk.Now), &j, sampleState("r"))
	both := newLoginStates(t, testConfig(sessiontest.NewSecret, sessiontest.OldSecret), clk.Now)
	if _, _, err := take(both, &j, "r"); err != nil {
		t.Errorf("Take across rotation: %v", err)
	}
	big := sampleState("big")
	big.Redirect = "https://app.example.com/" + strings.Repeat("x", 4000)
	if err := both.Put(httptest.NewRecorder(), sessiontest.WithCookie(""), big); !errors.Is(err, session.ErrTooLarge) {
		t.Errorf("Put of a 4 KB redirect = %v, want ErrTooLarge", err)
	}
	if err := both.Put(httptest.NewRecorder(), sessiontest.WithCookie(""), &session.LoginState{}); err == nil {
		t.Error("Put without state succeeded")
	}
}
