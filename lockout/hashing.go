package lockout

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// ErrBusy is Do's answer when every slot is taken and as many callers as
// the queue holds are already waiting: fn did not run, no password was
// checked, and the caller answers 503 ("try again"), never as for a wrong
// password.
var ErrBusy = errors.New("lockout: hashing: too many logins waiting")

// Hashing bounds how many password hashes run at once, so that a burst of
// logins (argon2id costs tens of MiB and milliseconds of CPU each) queues
// behind a few slots instead of starving proxied traffic of CPU and memory.
// The queue is bounded too: without a bound a burst of attempts (from many
// addresses and accounts, which the lockout counters do not stop) parks
// without limit, and a real login behind it waits until its client gives
// up. With one, the excess is refused at once with ErrBusy, and those that
// wait are served within a few hash times. Wrap every hash through Do, for
// known and unknown users alike, so that both wait the same. It is safe for
// concurrent use.
type Hashing struct {
	slots   chan struct{}
	waiting atomic.Int64
	queue   int64
}

// NewHashing returns a gate with n slots (n < 1 means 1), typically
// config.Login.MaxConcurrent, and a queue of DefaultQueue(n).
func NewHashing(n int) *Hashing {
	return NewHashingQueue(n, DefaultQueue(n))
}

// DefaultQueue is how many callers may wait for one of n slots: 8 per slot,
// and at least 32. The last in the queue then waits for about eight hashes
// per slot to finish ahead of it: a few seconds at the default cost
// (argon2id, 64 MiB, t=3; about 3 s measured with n = 4 on two cores),
// which a person at a login form tolerates; beyond that "try again" is the
// better answer than a request that times out.
func DefaultQueue(n int) int {
	return max(8*max(n, 1), 32)
}

// NewHashingQueue returns a gate with n slots (n < 1 means 1) where at most
// queue callers (queue < 0 means 0) wait for a slot; more get ErrBusy.
func NewHashingQueue(n, queue int) *Hashing {
	return &Hashing{slots: make(chan struct{}, max(n, 1)), queue: int64(max(queue, 0))}
}

// Do waits for a free slot, runs fn in it and frees the slot (also when fn
// panics). If the queue is full, fn does not run and Do returns ErrBusy at
// once. If ctx ends first, or has already ended, fn does not run and Do
// returns an error wrapping ctx.Err(); the caller answers 503, not as for a
// wrong password, since no password was checked.
func (h *Hashing) Do(ctx context.Context, fn func()) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("lockout: hashing: %w", err)
	}
	select {
	case h.slots <- struct{}{}:
	default:
		if h.waiting.Add(1) > h.queue {
			h.waiting.Add(-1)
			return ErrBusy
		}
		select {
		case h.slots <- struct{}{}:
			h.waiting.Add(-1)
		case <-ctx.Done():
			h.waiting.Add(-1)
			return fmt.Errorf("lockout: hashing: %w", ctx.Err())
		}
	}
	defer func() { <-h.slots }()
	fn()
	return nil
}
