package session

import (
	"hash/maphash"

	"github.com/gatehouse-dev/gatehouse/internal/boundedcache"
)

// decodeCache remembers sessions already opened from an exact cookie value,
// so a browser's every request does not pay for HMAC verification, AES
// decryption and JSON parsing again: a hit means these exact bytes verified
// before under our keys, so it is as trustworthy as decoding them again.
// Lifetimes are still checked on every hit. Keys are the exact cookie values
// (one store has one cookie name), so a hit is a byte-for-byte match.
// Bounded (boundedcache): when a shard is full, an arbitrary entry of it is
// evicted.
type decodeCache struct {
	m *boundedcache.Cache[string, cachedSession]
}

type cachedSession struct {
	s       *Session // never mutated after insertion; hits get a copy
	rotated bool
}

const defaultCacheEntries = 10000

func newDecodeCache(entries int) *decodeCache {
	seed := maphash.MakeSeed()
	return &decodeCache{m: boundedcache.New[string, cachedSession](entries, func(k string) uint64 {
		return maphash.String(seed, k)
	})}
}

// get returns a copy of the cached session (the Identity is shared and must
// be treated as read-only, as everywhere: callers Clone before changing it).
func (c *decodeCache) get(k string) (*Session, bool, bool) {
	e, ok := c.m.Get(k)
	if !ok {
		return nil, false, false
	}
	cp := *e.s
	return &cp, e.rotated, true
}

func (c *decodeCache) put(k string, s *Session, rotated bool) {
	cp := *s
	c.m.Put(k, cachedSession{s: &cp, rotated: rotated}, nil)
}
