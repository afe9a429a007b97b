package session_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/session"
	"github.com/gatehouse-dev/gatehouse/session/sessiontest"
)

// Requests of one connection share its memo; a hit must give exactly what
// the full path gives for the same Cookie line, and nothing else.
func TestConnMemo(t *testing.T) {
	clock := sessiontest.NewClock(time.Now())
	st := newCookieStore(t, testConfig(), clock.Now)
	other := newCookieStore(t, testConfig("another-secret-0123456789abcdef-xyz"), clock.Now)
	conn := session.WithConnMemo(context.Background())
	onConn := func(r *http.Request) *http.Request { return r.WithContext(conn) }

	alice, bob := &sessiontest.Jar{}, &sessiontest.Jar{}
	a := sessiontest.Sample(clock.Now())
	a.Identity.Subject, a.Identity.Email = "alice", "alice@example.com"
	sessiontest.Save(t, st, alice, a)
	b := sessiontest.Sample(clock.Now())
	b.Identity.Subject, b.Identity.Email = "bob", "bob@example.com"
	sessiontest.Save(t, st, bob, b)

	load := func(s *session.CookieStore, r *http.Request) (*session.Session, error) {
		t.Helper()
		return s.Load(onConn(r))
	}
	for range 2 { // the second load is a memo hit
		got, err := load(st, alice.Request("/"))
		if err != nil || got.Identity.Subject != "alice" {
			t.Fatalf("alice: %v %v", got, err)
		}
		got.Identity = nil // a caller's change must not reach the memo
	}
	// Another user on the same connection (an ingress's shared connection).
	if got, err := load(st, bob.Request("/")); err != nil || got.Identity.Subject != "bob" {
		t.Fatalf("bob after alice: %v %v", got, err)
	}
	if got, err := load(st, alice.Request("/")); err != nil || got.Identity.Subject != "alice" {
		t.Fatalf("alice after bob: %v %v", got, err)
	}
	// Another store (name or keys) never gets this store's session.
	if _, err := load(other, alice.Request("/")); err == nil {
		t.Fatal("a store with other keys accepted the memo's session")
	}
	// Another line — alice's cookie and a planted one for bob — is judged in
	// full: two users' sessions under our name are rejected.
	both := sessiontest.WithCookie(alice.Request("/").Header.Get("Cookie") + "; " + bob.Request("/").Header.Get("Cookie"))
	if _, err := load(st, both); !errors.Is(err, session.ErrInvalid) {
		t.Fatalf("planted second session: %v, want ErrInvalid", err)
	}
	// Lifetimes are checked on a hit.
	if _, err := load(st, alice.Request("/")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(200 * 24 * time.Hour)
	if _, err := load(st, alice.Request("/")); !errors.Is(err, session.ErrExpired) {
		t.Fatalf("expired session from the memo: %v", err)
	}
}

// A memo hit costs one allocation: the caller's copy.
func TestConnMemoAllocations(t *testing.T) {
	st := newCookieStore(t, testConfig(), time.Now)
	j := &sessiontest.Jar{}
	sessiontest.Save(t, st, j, sessiontest.Sample(time.Now()))
	r := j.Request("/").WithContext(session.WithConnMemo(context.Background()))
	if _, err := st.Load(r); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = st.Load(r) }); n != 1 {
		t.Errorf("%v allocations per remembered Load, want 1", n)
	}
}
