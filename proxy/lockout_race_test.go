package proxy_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/lockout"
	"github.com/gatehouse-dev/gatehouse/metrics"
	"github.com/gatehouse-dev/gatehouse/providers/local"
	"github.com/gatehouse-dev/gatehouse/proxy"
	"github.com/gatehouse-dev/gatehouse/session"
)

// countingAuth is the real local provider with a count of the passwords it
// was asked to verify: every Authenticate call costs one hash. hold, when
// set, runs before the password is checked, so a test can keep a hashing
// slot busy. Embedding keeps Canonical and UsesTOTP, which the gateway
// looks for.
type countingAuth struct {
	*local.Provider
	calls atomic.Int32
	hold  func()
}

func (c *countingAuth) Authenticate(ctx context.Context, user, password, otp string) (*identity.Identity, error) {
	c.calls.Add(1)
	if c.hold != nil {
		c.hold()
	}
	return c.Provider.Authenticate(ctx, user, password, otp)
}

// loginGateway is a second gateway on env e's config whose local provider
// is a countingAuth and whose hashing gate is the test's. The harness's own
// gateway offers neither hook.
type loginGateway struct {
	t       *testing.T
	srv     *httptest.Server
	auth    *countingAuth
	limiter *lockout.Limiter
	logs    *syncBuffer
}

func newLoginGateway(t *testing.T, hashing *lockout.Hashing) *loginGateway {
	t.Helper()
	e := newEnv(t, envOptions{})
	lg := &loginGateway{t: t, logs: &syncBuffer{}}
	log := slog.New(slog.NewJSONHandler(lg.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var p *local.Provider
	for _, pc := range e.cfg.Providers {
		if pc.Type == "local" {
			var err error
			if p, err = local.New(pc, local.Options{Logger: log}); err != nil {
				t.Fatal(err)
			}
		}
	}
	lg.auth = &countingAuth{Provider: p}
	sessions, err := session.NewCookieStore(e.cfg.Session, session.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	states, err := session.NewLoginStates(e.cfg.Session, session.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if lg.limiter, err = lockout.NewMemory(e.cfg.Login, lockout.Options{Logger: log}); err != nil {
		t.Fatal(err)
	}
	gw, err := proxy.New(proxy.Options{Config: e.cfg, Sessions: sessions, LoginStates: states, Local: lg.auth,
		Logger: log, Limiter: lg.limiter, Hashing: hashing, Metrics: metrics.New()})
	if err != nil {
		t.Fatal(err)
	}
	lg.srv = httptest.NewServer(gw)
	t.Cleanup(lg.srv.Close)
	return lg
}

// form is a signed-in-ready POST of the local form: its own browser (cookie
// jar) with a CSRF token fetched beforehand, so that many can be sent at
// the same instant.
type form struct {
	c   *http.Client
	req *http.Request
}

func (lg *loginGateway) form(user, password string) form {
	lg.t.Helper()
	e := &env{t: lg.t, srv: lg.srv}
	c := e.client()
	m := csrfRe.FindStringSubmatch(body(lg.t, e.get(c, "/oauth2/sign_in")))
	if m == nil {
		lg.t.Fatal("sign-in page has no CSRF token")
	}
	vals := url.Values{"csrf": {m[1]}, "username": {user}, "password": {password}, "rd": {"/"}}
	req, err := http.NewRequest(http.MethodPost, lg.srv.URL+"/oauth2/sign_in", strings.NewReader(vals.Encode()))
	if err != nil {
		lg.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", lg.srv.URL)
	return form{c: c, req: req}
}

// send posts f and returns the status and whether the body is the one
// failure message.
func (f form) send() (int, bool, error) {
	resp, err := f.c.Do(f.req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.Contains(string(b), "Invalid username or password."), err
}

// burst sends all forms at once: every goroutine has its request ready and
// waits on one channel, closed when all are waiting.
func burst(t *testing.T, forms []form) []int {
	t.Helper()
	statuses := make([]int, len(forms))
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	for i, f := range forms {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-start
			s, _, err := f.send()
			if err != nil {
				t.Errorf("request %d: %v", i, err)
			}
			statuses[i] = s
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
	return statuses
}

// TestParallelGuessesCannotOvershootTheLockout sends 40 wrong passwords for
// one account at the same instant, as the probe that found the bug did.
// Before the fix every request passed the lockout check before any failure
// was recorded, so all 40 were verified; now no more than max_failures may
// be, and the account ends locked so the right password is refused.
func TestParallelGuessesCannotOvershootTheLockout(t *testing.T) {
	lg := newLoginGateway(t, lockout.NewHashing(4))
	const n = 40
	forms := make([]form, n)
	for i := range forms {
		forms[i] = lg.form("carol", fmt.Sprintf("wrong password %d", i))
	}
	for i, s := range burst(t, forms) {
		if s != http.StatusUnauthorized {
			t.Errorf("guess %d: status %d, want 401", i, s)
		}
	}
	if got, limit := lg.auth.calls.Load(), int32(5); got > limit {
		t.Errorf("%d of %d parallel guesses had their password verified, want at most max_failures = %d", got, n, limit)
	}
	calls := lg.auth.calls.Load()
	s, generic, err := lg.form("carol", carolPassword).send()
	if err != nil {
		t.Fatal(err)
	}
	if s != http.StatusUnauthorized || !generic {
		t.Fatalf("the right password after the burst: status %d (one failure message: %v), want 401 while locked", s, generic)
	}
	if lg.auth.calls.Load() != calls {
		t.Error("the right password was verified although the account is locked")
	}
	if !strings.Contains(lg.logs.String(), `"reason":"user locked"`) {
		t.Error("the log does not say the account is locked")
	}
}

// TestParallelSprayCannotOvershootTheIPLimit is the same race against the
// per-address limit: one address tries 40 usernames at once.
func TestParallelSprayCannotOvershootTheIPLimit(t *testing.T) {
	lg := newLoginGateway(t, lockout.NewHashing(4))
	const n = 40
	forms := make([]form, n)
	for i := range forms {
		forms[i] = lg.form(fmt.Sprintf("user%d", i), "Winter2026!")
	}
	burst(t, forms)
	if got, limit := lg.auth.calls.Load(), int32(4*5); got > limit {
		t.Errorf("%d of %d parallel guesses from one address were verified, want at most the address limit %d", got, n, limit)
	}
	if s, _, err := lg.form("carol", carolPassword).send(); err != nil || s != http.StatusUnauthorized {
		t.Fatalf("the right password from the sprayed address: status %d, %v; want 401 while the address is locked", s, err)
	}
	if !strings.Contains(lg.logs.String(), `"reason":"ip locked"`) {
		t.Error("the log does not say the address is locked")
	}
}

// TestBusyHashingRefusesWithoutCounting holds the only hashing slot and
// allows no queue: further logins must be told to try again (503 with
// Retry-After) at once rather than wait, and, since no password was checked
// for them, their reserved places must be released. Were they kept, the
// account's five places would be gone after four and the refusals would
// turn into 401s.
func TestBusyHashingRefusesWithoutCounting(t *testing.T) {
	lg := newLoginGateway(t, lockout.NewHashingQueue(1, 0))
	held := make(chan struct{})
	release := make(chan struct{})
	// Released on every exit: the server's Close waits for the held request.
	releaseHolder := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseHolder)
	var first atomic.Bool
	lg.auth.hold = func() {
		if first.CompareAndSwap(false, true) {
			close(held)
			<-release
		}
	}
	holder := lg.form("carol", "wrong password")
	done := make(chan int, 1)
	go func() {
		s, _, err := holder.send()
		if err != nil {
			t.Error(err)
		}
		done <- s
	}()
	<-held
	for i := range 10 {
		f := lg.form("carol", "wrong password")
		resp, err := f.c.Do(f.req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("login %d while hashing is full: status %d, Retry-After %q; want 503 with Retry-After",
				i, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	releaseHolder()
	if s := <-done; s != http.StatusUnauthorized {
		t.Fatalf("the held wrong password: status %d, want 401", s)
	}
	// One failure counted, not eleven: the right password still works.
	if s, _, err := lg.form("carol", carolPassword).send(); err != nil || s != http.StatusSeeOther {
		t.Fatalf("the right password after the busy spell: status %d, %v; want 303", s, err)
	}
	if got := lg.auth.calls.Load(); got != 2 {
		t.Errorf("%d passwords verified, want 2 (the held one and the right one)", got)
	}
}
