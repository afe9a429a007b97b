package lockout

import (
	"context"
	"crypto/rand"
	"time"
)

// store is a backend: counters and locks by hashed key, judged at now.
type store interface {
	// lockedUntil returns, for each key, the end of its lock if it is
	// locked at now, else the zero time.
	lockedUntil(ctx context.Context, keys []key, now time.Time) ([]time.Time, error)
	// reserve admits one attempt on k at now, under the name id, if k is
	// not locked and its failures plus reservations inside the window are
	// fewer than r.max; the check and the reservation are one atomic step.
	// When it refuses, until is the end of the lock, or when the oldest
	// failure or reservation leaves the window.
	reserve(ctx context.Context, k key, r rule, id nonce, now time.Time) (until time.Time, ok bool, err error)
	// fail records a failure of k at now, turning the reservation id into
	// it if there is one, and returns the end of k's lock if k is locked
	// afterwards (else the zero time), and whether this failure placed the
	// lock.
	fail(ctx context.Context, k key, r rule, id nonce, now time.Time) (until time.Time, locked bool, err error)
	// release drops the reservation id of k, if it is still there.
	release(ctx context.Context, k key, id nonce) error
	// reset forgets k's failures; a lock and reservations stay.
	reset(ctx context.Context, k key) error
}

// nonce names one reservation: random, so replicas never collide.
type nonce [12]byte

func newNonce() nonce {
	var n nonce
	_, _ = rand.Read(n[:]) // never fails (crypto/rand)
	return n
}

// rule is how one namespace counts.
type rule struct {
	max     int
	window  time.Duration
	lockout time.Duration
}
