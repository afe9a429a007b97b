package session

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
)

const defaultLifetime = 168 * time.Hour

// lifetimes enforces the absolute lifetime and the optional idle timeout from
// inside the session, on the injected clock.
type lifetimes struct {
	absolute time.Duration
	idle     time.Duration
}

func newLifetimes(cfg config.Session) (lifetimes, error) {
	l := lifetimes{absolute: cfg.Lifetime, idle: cfg.IdleTimeout}
	if l.absolute == 0 {
		l.absolute = defaultLifetime
	}
	if l.absolute < 0 || l.idle < 0 {
		return l, fmt.Errorf("session: lifetime and idle_timeout must not be negative")
	}
	return l, nil
}

// stamp prepares s for writing at now: CreatedAt defaults to now, ExpiresAt
// defaults to and is capped at CreatedAt+absolute, and LastSeen is set to now
// when an idle timeout is configured (zero otherwise, costing no bytes).
// Times are kept in UTC to whole seconds, which keeps the cookie small and
// only ever shortens a lifetime. A session already past its end is ErrExpired.
func (l lifetimes) stamp(s *Session, now time.Time) error {
	if s.Identity == nil {
		return fmt.Errorf("session: save: %w: no identity", ErrInvalid)
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	s.CreatedAt = s.CreatedAt.UTC().Truncate(time.Second)
	limit := s.CreatedAt.Add(l.absolute)
	if s.ExpiresAt.IsZero() || s.ExpiresAt.After(limit) {
		s.ExpiresAt = limit
	}
	s.ExpiresAt = s.ExpiresAt.UTC().Truncate(time.Second)
	if !now.Before(s.ExpiresAt) {
		return fmt.Errorf("session: save: %w", ErrExpired)
	}
	s.LastSeen = time.Time{}
	if l.idle > 0 {
		s.LastSeen = now.UTC().Truncate(time.Second)
	}
	s.Reissue = false
	return nil
}

// check validates a decoded session at now. Past ExpiresAt, past
// CreatedAt+absolute (the configured lifetime may have shrunk since it was
// issued) or idle longer than the idle timeout is ErrExpired. When the idle
// clock is older than a tenth of the timeout, or the session predates idle
// tracking, Reissue asks the caller to save it again so LastSeen moves on;
// activity therefore keeps a session alive within idle/10 of precision.
func (l lifetimes) check(s *Session, now time.Time) error {
	if s.Identity == nil || s.ExpiresAt.IsZero() || s.CreatedAt.IsZero() {
		return ErrInvalid
	}
	if !now.Before(s.ExpiresAt) || !now.Before(s.CreatedAt.Add(l.absolute)) {
		return ErrExpired
	}
	if l.idle > 0 {
		switch idle := now.Sub(s.LastSeen); {
		case s.LastSeen.IsZero():
			s.Reissue = true
		case idle >= l.idle:
			return ErrExpired
		case idle >= l.idle/10:
			s.Reissue = true
		}
	}
	return nil
}

// marshal serialises s for storage: compact JSON (the short keys on the
// structs), without Roles, which are derived per request and never stored.
func marshal(s *Session) ([]byte, error) {
	c := *s
	c.Identity = s.Identity.Clone()
	c.Identity.Roles = nil
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("session: encode: %w", err)
	}
	return b, nil
}

// unmarshal parses a stored session; any error is ErrInvalid.
func unmarshal(b []byte) (*Session, error) {
	var s Session
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, ErrInvalid
	}
	if s.Identity != nil {
		s.Identity.Roles = nil
	}
	return &s, nil
}
