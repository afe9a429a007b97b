package lockout

import (
	"context"
	"fmt"
)

// Hashing bounds how many password hashes run at once, so that a burst of
// logins (argon2id costs tens of MiB and milliseconds of CPU each) queues
// behind a few slots instead of starving proxied traffic of CPU and memory.
// Wrap every hash through Do, for known and unknown users alike, so that
// both wait the same. It is safe for concurrent use.
type Hashing struct {
	slots chan struct{}
}

// NewHashing returns a gate with n slots (n < 1 means 1), typically
// config.Login.MaxConcurrent.
func NewHashing(n int) *Hashing {
	return &Hashing{slots: make(chan struct{}, max(n, 1))}
}

// Do waits for a free slot, runs fn in it and frees the slot (also when fn
// panics). If ctx ends first, or has already ended, fn does not run and Do
// returns an error wrapping ctx.Err(); the caller answers 503, not as for a
// wrong password, since no password was checked.
func (h *Hashing) Do(ctx context.Context, fn func()) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("lockout: hashing: %w", err)
	}
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("lockout: hashing: %w", ctx.Err())
	}
	defer func() { <-h.slots }()
	fn()
	return nil
}
