package session

import (
	"hash/maphash"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/boundedcache"
)

// decodeCache remembers sessions already opened from an exact cookie value,
// so a browser's every request does not pay for HMAC verification, AES
// decryption and JSON parsing again: a hit means these exact bytes verified
// before under our keys, so it is as trustworthy as decoding them again.
// Lifetimes are still checked on every hit.
//
// An entry keeps the cookie value it was opened from, and a hit requires
// the request's value to be equal, byte for byte; the key is only a seeded
// 64-bit hash (hash/maphash) of the value to find the entry. Two values
// with the same hash just take turns in one slot. That costs ~600 bytes
// per entry, and saves hashing the value with SHA-256 on every request
// (400 ns against 50). Bounded (boundedcache): when a shard is full, an
// arbitrary entry of it is evicted.
type decodeCache struct {
	seed maphash.Seed
	m    *boundedcache.Cache[uint64, cachedSession]
}

type cachedSession struct {
	value   string   // the exact cookie value s was opened from
	s       *Session // never mutated after insertion; hits get a copy
	rotated bool
}

// defaultCacheEntries bounds the cache's memory (a few MiB); sessions beyond
// it are decoded as before, only slower.
const defaultCacheEntries = 4096

func newDecodeCache(entries int) *decodeCache {
	seed := maphash.MakeSeed()
	return &decodeCache{seed: seed, m: boundedcache.New[uint64, cachedSession](entries, func(k uint64) uint64 {
		return k // already a seeded hash
	})}
}

// get returns a copy of the cached session (the Identity is shared and must
// be treated as read-only, as everywhere: callers Clone before changing it).
func (c *decodeCache) get(v string) (*Session, bool, bool) {
	e, ok := c.m.Get(maphash.String(c.seed, v))
	if !ok || e.value != v {
		return nil, false, false
	}
	cp := *e.s
	return &cp, e.rotated, true
}

func (c *decodeCache) put(v string, s *Session, rotated bool) {
	cp := *s
	// A copy of the value: v may point into the request's whole Cookie line.
	c.m.Put(maphash.String(c.seed, v), cachedSession{value: strings.Clone(v), s: &cp, rotated: rotated}, nil)
}
