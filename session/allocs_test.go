package session_test

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/session/sessiontest"
)

// A signed-in request's session, once decoded, costs two allocations: the
// candidate cookie values and the caller's copy of the cached session.
func TestCookieLoadCachedAllocations(t *testing.T) {
	st := newCookieStore(t, testConfig(), time.Now)
	j := &sessiontest.Jar{}
	sessiontest.Save(t, st, j, sessiontest.Sample(time.Now()))
	req := j.Request("/")
	if _, err := st.Load(req); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = st.Load(req) }); n != 2 {
		t.Errorf("%v allocations per cached Load, want 2", n)
	}
}
