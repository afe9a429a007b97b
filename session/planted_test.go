package session_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/session"
	"github.com/gatehouse-dev/gatehouse/session/sessiontest"
)

// A sibling subdomain can set a cookie of our exact name for the parent
// domain. If the request carries valid sessions of two different users,
// neither is trusted; two of the same user are fine.
func TestTwoSessionsForDifferentUsersAreRejected(t *testing.T) {
	st := newCookieStore(t, testConfig(), time.Now)
	value := func(subject string) string { return savedCookie(t, st, subject) }
	victim, attacker, victimAgain := value("victim"), value("attacker"), value("victim")

	r := sessiontest.WithCookie(st.Name() + "=" + attacker + "; " + st.Name() + "=" + victim)
	if _, err := st.Load(r); !errors.Is(err, session.ErrInvalid) {
		t.Fatalf("two users' sessions: %v, want ErrInvalid", err)
	}
	r = sessiontest.WithCookie(st.Name() + "=" + victim + "; " + st.Name() + "=" + victimAgain)
	if s, err := st.Load(r); err != nil || s.Identity.Subject != "victim" {
		t.Fatalf("the same user twice: %v", err)
	}
}

// namedStore is a session store that says its cookie's name.
type namedStore interface {
	session.Store
	Name() string
}

// savedCookie saves a small session for subject with st and returns the
// value of the (single, whole) cookie it set.
func savedCookie(t *testing.T, st namedStore, subject string) string {
	t.Helper()
	j := &sessiontest.Jar{}
	s := sessiontest.Sample(time.Now())
	s.Identity.Subject = subject
	sessiontest.Save(t, st, j, s)
	v, ok := j.Get(st.Name())
	if !ok {
		t.Fatal("no cookie saved")
	}
	return v
}
