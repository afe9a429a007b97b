package session_test

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/session/sessiontest"
)

// The decode cache must be invisible: repeated loads of one cookie give equal,
// independent sessions, and expiry is still judged on every load.
func TestCookieDecodeCache(t *testing.T) {
	clock := sessiontest.NewClock(time.Now().UTC().Truncate(time.Second))
	st := newCookieStore(t, testConfig(), clock.Now)
	j := &sessiontest.Jar{}
	sessiontest.Save(t, st, j, sessiontest.Sample(clock.Now()))

	first, err := st.Load(j.Request("/"))
	if err != nil {
		t.Fatal(err)
	}
	first.Tokens.RefreshToken = "changed by a caller"
	first.ExpiresAt = time.Time{}
	second, err := st.Load(j.Request("/"))
	if err != nil {
		t.Fatal(err)
	}
	if second.Tokens.RefreshToken == "changed by a caller" || second.ExpiresAt.IsZero() {
		t.Fatal("a caller's change to a loaded session leaked into the cache")
	}
	if second.Identity.Email != first.Identity.Email {
		t.Fatal("second load differs")
	}
	clock.Advance(200 * 24 * time.Hour)
	if _, err := st.Load(j.Request("/")); err == nil {
		t.Fatal("a cached session outlived its lifetime")
	}
}

func BenchmarkCookieLoadCached(b *testing.B) {
	st := newCookieStore(b, testConfig(), time.Now)
	j := &sessiontest.Jar{}
	sessiontest.Save(b, st, j, sessiontest.Sample(time.Now()))
	req := j.Request("/")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Load(req); err != nil {
			b.Fatal(err)
		}
	}
}
