package assertion

import (
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/identity"
)

const cacheShards = 32

// entryKey is what For caches under.
type entryKey struct{ key, audience string }

// subject is the part of an Identity that a token's claims depend on. A
// cached token is reused only for an identity equal in all of it, so a
// colliding or reused cache key can never hand out another user's token.
type subject struct {
	provider, sub, user, email string
	groups, roles              []string
	expiry                     time.Time
}

func subjectOf(id *identity.Identity) subject {
	return subject{
		provider: id.Provider, sub: id.Subject, user: id.UserName(), email: assertedEmail(id),
		groups: slices.Clone(id.Groups), roles: slices.Clone(id.Roles), expiry: id.Expiry,
	}
}

func (s *subject) matches(id *identity.Identity) bool {
	return s.sub == id.Subject && s.provider == id.Provider && s.email == assertedEmail(id) &&
		s.user == id.UserName() && s.expiry.Equal(id.Expiry) &&
		slices.Equal(s.groups, id.Groups) && slices.Equal(s.roles, id.Roles)
}

// assertedEmail is the email claim for id: verified addresses only.
func assertedEmail(id *identity.Identity) string {
	if !id.EmailVerified {
		return ""
	}
	return id.Email
}

// cached is one signed token and when to stop reusing it.
type cached struct {
	token     string
	gen       uint64    // key generation that signed it
	refreshAt time.Time // half its lifetime
	who       subject
}

// cache is a bounded, sharded map of tokens. Reads take one shard's read
// lock. A full shard drops an entry past its refresh time if it meets one
// early, else an arbitrary one.
type cache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[entryKey]cached
}

func newCache(size int) *cache {
	c := &cache{seed: maphash.MakeSeed(), perShard: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[entryKey]cached)
	}
	return c
}

func (c *cache) shard(k entryKey) *cacheShard {
	return &c.shards[maphash.String(c.seed, k.key)%cacheShards]
}

// get returns the cached token for k if it was signed by key generation
// gen for an identical identity and is not yet due for refresh at now.
func (c *cache) get(k entryKey, gen uint64, id *identity.Identity, now time.Time) (string, bool) {
	s := c.shard(k)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	if !ok || e.gen != gen || !now.Before(e.refreshAt) || !e.who.matches(id) {
		return "", false
	}
	return e.token, true
}

func (c *cache) put(k entryKey, e cached, now time.Time) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; !ok && len(s.m) >= c.perShard {
		evicted, seen := false, 0
		for old, oe := range s.m {
			if !now.Before(oe.refreshAt) {
				delete(s.m, old)
				evicted = true
			}
			if seen++; seen == 8 {
				break
			}
		}
		if !evicted {
			for old := range s.m { // map order is unspecified: an arbitrary victim
				delete(s.m, old)
				break
			}
		}
	}
	s.m[k] = e
}

// len counts entries (tests).
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.RLock()
		n += len(c.shards[i].m)
		c.shards[i].mu.RUnlock()
	}
	return n
}
