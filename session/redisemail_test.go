package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
	"github.com/gatehouse-dev/gatehouse/session"
	"github.com/gatehouse-dev/gatehouse/session/sessiontest"
)

// resaveWithEmail loads the jar's session, gives it email (as the proxy does
// when the users file changed a local user's email) and saves it again in
// place (same ID).
func resaveWithEmail(t *testing.T, st *session.RedisStore, j *sessiontest.Jar, email string) {
	t.Helper()
	loaded, err := st.Load(j.Request("/"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	id := loaded.ID
	loaded.Identity = loaded.Identity.Clone()
	loaded.Identity.Email, loaded.Identity.EmailVerified = email, email != ""
	sessiontest.Save(t, st, j, loaded)
	if loaded.ID != id {
		t.Fatalf("the session was saved under a new ID (%q → %q), not in place", id, loaded.ID)
	}
}

// handles lists the handles of the sessions filed under email.
func handles(t *testing.T, st *session.RedisStore, email string) []string {
	t.Helper()
	list, err := st.ListEmail(context.Background(), email)
	if err != nil {
		t.Fatalf("ListEmail(%q): %v", email, err)
	}
	var out []string
	for _, info := range list {
		out = append(out, info.Handle)
	}
	return out
}

func loads(st *session.RedisStore, j *sessiontest.Jar) bool {
	_, err := st.Load(j.Request("/"))
	return err == nil
}

// TestRedisEmailChangeMovesIndex: a session saved again in place with
// another email is filed under the new email only, so listing and revoking
// by email find it under the new one and no longer under the old one. On a
// single server the index update is one MULTI/EXEC; the plain pipeline that
// a Cluster gets moves it too.
func TestRedisEmailChangeMovesIndex(t *testing.T) {
	for _, atomic := range []bool{true, false} {
		name := "MULTI"
		if !atomic {
			name = "pipeline as on a Cluster"
		}
		t.Run(name, func(t *testing.T) { testEmailChangeMovesIndex(t, atomic) })
	}
}

func testEmailChangeMovesIndex(t *testing.T, atomic bool) {
	ctx := context.Background()
	const oldEmail, newEmail = "alice@example.com", "alice.new@example.com"
	c := redisClient(t, testpeers.Redis(t))
	cmds := &cmdCounter{n: map[string]int{}}
	c.AddHook(cmds)
	st := newRedisStore(t, c, time.Now)
	if !session.AtomicIndex(st) {
		t.Fatal("a store on one server does not update its indexes in a MULTI")
	}
	session.SetAtomicIndex(st, atomic)
	var moved, stays sessiontest.Jar // two sessions of alice; one sees the change
	sessiontest.Save(t, st, &moved, sessiontest.Sample(time.Now()))
	sessiontest.Save(t, st, &stays, sessiontest.Sample(time.Now()))
	before := handles(t, st, oldEmail)
	if len(before) != 2 {
		t.Fatalf("ListEmail(old) before the change = %q, want 2 sessions", before)
	}

	cmds.take("multi")
	resaveWithEmail(t, st, &moved, newEmail)
	if n, want := cmds.take("multi"), map[bool]int{true: 1, false: 0}[atomic]; n != want {
		t.Errorf("the re-save sent %d MULTI, want %d", n, want)
	}
	movedHandle := handles(t, st, newEmail)
	if len(movedHandle) != 1 {
		t.Fatalf("ListEmail(new) = %q, want the re-saved session", movedHandle)
	}
	if old := handles(t, st, oldEmail); len(old) != 1 || old[0] == movedHandle[0] {
		t.Fatalf("ListEmail(old) = %q, want only the other session (not %q)", old, movedHandle[0])
	}
	// The user index is the same user's: both sessions stay listed there.
	if list, err := st.ListUser(ctx, "corp", "248289761001"); err != nil || len(list) != 2 {
		t.Fatalf("ListUser = %+v, %v; want 2 sessions", list, err)
	}

	// Revoking the old email ends only the session that still has it.
	if n, err := st.RevokeEmail(ctx, oldEmail); err != nil || n != 1 {
		t.Fatalf("RevokeEmail(old) = %d, %v; want 1", n, err)
	}
	if loads(st, &stays) {
		t.Error("the unchanged session survived RevokeEmail(old)")
	}
	if !loads(st, &moved) {
		t.Fatal("RevokeEmail(old) ended the session whose email had changed")
	}
	// Revoking the new email finds the re-saved session.
	if n, err := st.RevokeEmail(ctx, "ALICE.NEW@example.com"); err != nil || n != 1 {
		t.Fatalf("RevokeEmail(new) = %d, %v; want 1", n, err)
	}
	if loads(st, &moved) {
		t.Error("the re-saved session survived RevokeEmail(new)")
	}
}

// TestRedisEmailRemovedLeavesIndex: a session re-saved without an email is
// no longer filed under the one it had; one whose email changes only in
// case stays filed (the index is case-insensitive).
func TestRedisEmailRemovedLeavesIndex(t *testing.T) {
	ctx := context.Background()
	const email = "alice@example.com"
	st := newRedisStore(t, redisClient(t, testpeers.Redis(t)), time.Now)
	var removed, recased sessiontest.Jar
	sessiontest.Save(t, st, &removed, sessiontest.Sample(time.Now()))
	sessiontest.Save(t, st, &recased, sessiontest.Sample(time.Now()))

	resaveWithEmail(t, st, &removed, "")
	resaveWithEmail(t, st, &recased, "Alice@Example.COM")
	if got := handles(t, st, email); len(got) != 1 {
		t.Fatalf("ListEmail = %q, want only the session whose email changed case", got)
	}
	if n, err := st.RevokeEmail(ctx, email); err != nil || n != 1 {
		t.Fatalf("RevokeEmail = %d, %v; want 1", n, err)
	}
	if !loads(st, &removed) {
		t.Error("RevokeEmail ended the session that no longer has the email")
	}
	if loads(st, &recased) {
		t.Error("the session whose email changed case survived RevokeEmail")
	}
	// The session without an email is still the user's.
	if n, err := st.RevokeUser(ctx, "corp", "248289761001"); err != nil || n != 1 {
		t.Fatalf("RevokeUser = %d, %v; want 1", n, err)
	}
	if loads(st, &removed) {
		t.Error("the session without an email survived RevokeUser")
	}
}
