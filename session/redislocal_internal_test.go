package session

import (
	"log/slog"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/identity"
)

// TestLocalCacheRules drives localCache directly (no Redis, no watcher):
// which stored entries a get may use.
func TestLocalCacheRules(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tk := ticket{id: "ticket-id", key: []byte("0123456789abcdef0123456789abcdef")}
	sk := tk.sessionKey()
	sess := func() *Session {
		return &Session{ID: tk.id, Identity: &identity.Identity{Subject: "s"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	tests := []struct {
		name string
		// run stores (or not) and disturbs the cache; get is then asked at
		// the returned time with the returned ticket.
		run  func(c *localCache) (time.Time, ticket)
		want bool
	}{
		{"stored", func(c *localCache) (time.Time, ticket) {
			c.put(tk, c.begin(), sess(), now)
			return now, tk
		}, true},
		{"invalidated", func(c *localCache) (time.Time, ticket) {
			c.put(tk, c.begin(), sess(), now)
			c.invalidate(sk)
			return now, tk
		}, false},
		{"another key invalidated", func(c *localCache) (time.Time, ticket) {
			c.put(tk, c.begin(), sess(), now)
			c.invalidate(ticket{id: "other"}.sessionKey())
			return now, tk
		}, true},
		{"invalidated while the fetch was reading", func(c *localCache) (time.Time, ticket) {
			tok := c.begin()
			c.invalidate(sk) // arrives between the GET and the put
			c.put(tk, tok, sess(), now)
			return now, tk
		}, false},
		{"an unreadable key name forgets everything", func(c *localCache) (time.Time, ticket) {
			c.put(tk, c.begin(), sess(), now)
			c.invalidate("gatehouse:s:not-hex")
			return now, tk
		}, false},
		{"subscription lost", func(c *localCache) (time.Time, ticket) {
			c.put(tk, c.begin(), sess(), now)
			c.setHealthy(false)
			return now, tk
		}, false},
		{"subscription lost and back", func(c *localCache) (time.Time, ticket) {
			c.put(tk, c.begin(), sess(), now)
			c.setHealthy(false)
			c.setHealthy(true)
			return now, tk
		}, false},
		{"read while unhealthy", func(c *localCache) (time.Time, ticket) {
			c.setHealthy(false)
			tok := c.begin()
			c.setHealthy(true)
			c.put(tk, tok, sess(), now)
			return now, tk
		}, false},
		{"wrong ticket key", func(c *localCache) (time.Time, ticket) {
			c.put(tk, c.begin(), sess(), now)
			return now, ticket{id: tk.id, key: []byte("fedcba9876543210fedcba9876543210")}
		}, false},
		{"last moment of ttl", func(c *localCache) (time.Time, ticket) {
			c.put(tk, c.begin(), sess(), now)
			return now.Add(c.ttl - time.Nanosecond), tk
		}, true},
		{"ttl over", func(c *localCache) (time.Time, ticket) {
			c.put(tk, c.begin(), sess(), now)
			return now.Add(c.ttl), tk
		}, false},
		{"session ends before ttl", func(c *localCache) (time.Time, ticket) {
			s := sess()
			s.ExpiresAt = now.Add(c.ttl / 2)
			c.put(tk, c.begin(), s, now)
			return s.ExpiresAt, tk
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := playedCache()
			at, tk := tt.run(c)
			got, ok := c.get(tk, at)
			if ok != tt.want {
				t.Fatalf("get = %v, %v; want hit %v", got, ok, tt.want)
			}
			if ok {
				got.Tokens.AccessToken = "changed"
				if again, _ := c.get(tk, at); again.Tokens.AccessToken != "" {
					t.Error("a hit is not a copy")
				}
			}
		})
	}
	if newLocalCache(0, nil, nil) != nil {
		t.Error("local_cache 0 built a cache")
	}
}

// playedCache is a healthy local cache (1 minute) without a watcher: the
// test plays the watcher's part.
func playedCache() *localCache {
	c := newLocalCache(time.Minute, nil, slog.New(slog.DiscardHandler))
	c.launched.Store(true)
	c.setHealthy(true)
	return c
}
