// Package testclock is a manual clock for tests. It is an ordinary package
// only so that test files in several packages can share it; no production
// code imports it.
package testclock

import (
	"sync"
	"time"
)

// Clock is a clock that moves only when a test tells it to. It is safe for
// concurrent use because the code under test reads it from its own
// goroutines while the test advances it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock stopped at t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time; pass c.Now where code takes a func() time.Time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
