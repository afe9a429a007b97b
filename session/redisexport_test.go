package session

// Hooks into the Redis store (its local cache, its index update) for the
// tests in session_test, and tests that drive localCache from inside.

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/identity"
)

// SetLocalCacheHooks installs the local cache's test hooks; call it before
// the store's first Load. onState sees every change of the invalidation
// subscription's health, onInvalidate every key name received.
func SetLocalCacheHooks(s *RedisStore, onState func(healthy bool), onInvalidate func(key string)) {
	s.local.onState = onState
	s.local.onInvalidate = onInvalidate
}

// SetLocalCacheProbing replaces subscriptionPing and subscriptionDead for
// the store's watcher and installs onProbe, which sees the outcome of every
// probe published; call it before the store's first Load.
func SetLocalCacheProbing(s *RedisStore, ping, dead time.Duration, onProbe func(err error)) {
	s.local.ping, s.local.dead = ping, dead
	s.local.onProbe = onProbe
}

// SetLocalCachePutHooks installs hooks that the local cache runs when it
// keeps a session it read from Redis: before inserting the entry, and after
// inserting it but before checking whether an invalidation or a change of
// health overtook the read. Install them while no Load runs.
func SetLocalCachePutHooks(s *RedisStore, beforeInsert, afterInsert func()) {
	s.local.beforeInsert = beforeInsert
	s.local.afterInsert = afterInsert
}

// AtomicIndex reports whether Save updates the session's indexes in one
// MULTI/EXEC; SetAtomicIndex sets it, so that the plain pipeline a Cluster
// gets is tested on a single server too.
func AtomicIndex(s *RedisStore) bool        { return s.atomicIndex }
func SetAtomicIndex(s *RedisStore, on bool) { s.atomicIndex = on }

// LocalCacheDone is closed when the store's watcher has returned; nil
// before the first Load or without a local cache.
func LocalCacheDone(s *RedisStore) <-chan struct{} {
	if s.local == nil {
		return nil
	}
	s.local.mu.Lock()
	defer s.local.mu.Unlock()
	return s.local.done
}

// TestLocalCachePendingEntry: put inserts its entry before it checks
// whether an invalidation or a change of health overtook the read, and a
// get in between (another request for the same ticket) must miss, whatever
// happened meanwhile; only an undisturbed entry is served once put returns.
func TestLocalCachePendingEntry(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tk := ticket{id: "ticket-id", key: []byte("0123456789abcdef0123456789abcdef")}
	invalidate := func(c *localCache) { c.invalidate(tk.sessionKey()) }
	tests := []struct {
		name   string
		before func(c *localCache) // while the fetch reads Redis
		during func(c *localCache) // between insertion and check
		want   bool                // a hit once put has returned
	}{
		{"undisturbed", nil, nil, true},
		// The race a review found: the invalidation is counted and finds no
		// entry, then the value it was about is inserted.
		{"invalidated before the insertion", invalidate, nil, false},
		{"invalidated between insertion and check", nil, invalidate, false},
		{"another key invalidated before the insertion", func(c *localCache) {
			c.invalidate(ticket{id: "other"}.sessionKey())
		}, nil, false}, // the count cannot tell keys apart: one GET more
		{"subscription lost and back between insertion and check", nil, func(c *localCache) {
			c.setHealthy(false)
			c.setHealthy(true)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := playedCache()
			sess := &Session{ID: tk.id, Identity: &identity.Identity{Subject: "s"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			tok := c.begin()
			if tt.before != nil {
				tt.before(c)
			}
			inserted := false
			c.afterInsert = func() {
				inserted = true
				if tt.during != nil {
					tt.during(c)
				}
				if s, ok := c.get(tk, now); ok {
					t.Errorf("get between insertion and check = %+v; want a miss", s)
				}
			}
			c.put(tk, tok, sess, now)
			if !inserted {
				t.Fatal("put inserted nothing")
			}
			if _, ok := c.get(tk, now); ok != tt.want {
				t.Errorf("get after put: hit %v, want %v", ok, tt.want)
			}
		})
	}
}
