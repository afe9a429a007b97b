package bearer

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/identity"
)

const cacheShards = 32

// verified is a cached successful verification.
type verified struct {
	id   *identity.Identity // never handed out; callers get a Clone
	exp  time.Time          // the token's exp (without leeway)
	is   *issuer
	keys *keySnapshot // the key set that verified it
}

// cache remembers successful verifications by SHA-256 of the raw token, so a
// client reusing its token costs a hash and a map lookup instead of a
// signature check. It is bounded: a full shard drops an expired entry if
// it meets one early, else an arbitrary one.
type cache struct {
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[[32]byte]verified
}

func newCache(size int) *cache {
	c := &cache{perShard: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]verified)
	}
	return c
}

func (c *cache) shard(k [32]byte) *cacheShard {
	return &c.shards[binary.LittleEndian.Uint32(k[:4])%cacheShards]
}

// get returns the entry for k if it is still good at now: unexpired, and
// verified with the issuer's current key set, which is not due for a
// refresh (a refetch invalidates the entry, so a key removed from the JWKS
// stops working for cached tokens too).
func (c *cache) get(k [32]byte, now time.Time) (verified, bool) {
	s := c.shard(k)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	if !ok || !now.Before(e.exp) || e.is.keys.snap.Load() != e.keys || now.Sub(e.keys.fetchedAt) > e.is.keys.maxAge {
		return verified{}, false
	}
	return e, true
}

func (c *cache) put(k [32]byte, e verified, now time.Time) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; !ok && len(s.m) >= c.perShard {
		evicted, seen := false, 0
		for old, oe := range s.m {
			if !now.Before(oe.exp) {
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
