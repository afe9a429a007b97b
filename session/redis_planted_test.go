package session_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
	"github.com/gatehouse-dev/gatehouse/session"
	"github.com/gatehouse-dev/gatehouse/session/sessiontest"
)

// Redis tickets get the cookie store's rule: a request carrying two live
// tickets of different users (one planted by a sibling subdomain) is signed
// out, whichever comes first; the same user twice, or a dead ticket beside a
// live one, still loads.
func TestRedisTwoTicketsForDifferentUsersAreRejected(t *testing.T) {
	st := newRedisStore(t, redisClient(t, testpeers.Redis(t)), time.Now)
	value := func(subject string) string { return savedCookie(t, st, subject) }
	victim, attacker, victimAgain := value("victim"), value("attacker"), value("victim")
	header := func(vs ...string) string {
		out := ""
		for i, v := range vs {
			if i > 0 {
				out += "; "
			}
			out += st.Name() + "=" + v
		}
		return out
	}
	for _, order := range [][]string{{attacker, victim}, {victim, attacker}} {
		if _, err := st.Load(sessiontest.WithCookie(header(order...))); !errors.Is(err, session.ErrInvalid) {
			t.Fatalf("two users' tickets: %v, want ErrInvalid", err)
		}
	}
	if s, err := st.Load(sessiontest.WithCookie(header(victim, victimAgain))); err != nil || s.Identity.Subject != "victim" {
		t.Fatalf("the same user twice: %v", err)
	}
	if s, err := st.Load(sessiontest.WithCookie(header("forged", victim))); err != nil || s.Identity.Subject != "victim" {
		t.Fatalf("a forged ticket beside the victim's: %v", err)
	}
}
