package session

import (
	"hash/maphash"
	"strings"
	"sync"
)

// decodeCache remembers sessions already opened from an exact cookie value,
// so a browser's every request does not pay for HMAC verification, AES
// decryption and JSON parsing again: a hit means these exact bytes verified
// before under our keys, so it is as trustworthy as decoding them again.
// Lifetimes are still checked on every hit. Keys are the exact cookie values (one store has one cookie name), so
// a hit is a byte-for-byte match. Bounded: when full, an arbitrary entry of
// the shard is evicted.
type decodeCache struct {
	shards [16]cacheShard
	per    int
	seed   maphash.Seed
}

type cacheShard struct {
	mu sync.Mutex
	m  map[string]cachedSession
}

type cachedSession struct {
	s       *Session // never mutated after insertion; hits get a copy
	rotated bool
}

const defaultCacheEntries = 10000

func newDecodeCache(entries int) *decodeCache {
	c := &decodeCache{per: entries/16 + 1, seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[string]cachedSession)
	}
	return c
}

// cacheKey joins the chunk values (one value, the usual case, costs nothing).
func cacheKey(values []string) string {
	if len(values) == 1 {
		return values[0]
	}
	return strings.Join(values, "\x00")
}

func (c *decodeCache) shard(k string) *cacheShard {
	return &c.shards[maphash.String(c.seed, k)&15]
}

// get returns a copy of the cached session (the Identity is shared and must
// be treated as read-only, as everywhere: callers Clone before changing it).
func (c *decodeCache) get(k string) (*Session, bool, bool) {
	sh := c.shard(k)
	sh.mu.Lock()
	e, ok := sh.m[k]
	sh.mu.Unlock()
	if !ok {
		return nil, false, false
	}
	cp := *e.s
	return &cp, e.rotated, true
}

func (c *decodeCache) put(k string, s *Session, rotated bool) {
	cp := *s
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.m) >= c.per {
		for old := range sh.m {
			delete(sh.m, old)
			break
		}
	}
	sh.m[k] = cachedSession{s: &cp, rotated: rotated}
}
