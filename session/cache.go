package session

import (
	"crypto/sha256"
	"encoding/binary"
	"unsafe"

	"github.com/gatehouse-dev/gatehouse/internal/boundedcache"
)

// decodeCache remembers sessions already opened from an exact cookie value,
// so a browser's every request does not pay for HMAC verification, AES
// decryption and JSON parsing again: a hit means these exact bytes verified
// before under our keys, so it is as trustworthy as decoding them again.
// Lifetimes are still checked on every hit. Keys are SHA-256 digests of the
// exact cookie values (one store has one cookie name), so a hit is a match of
// the bytes, and an entry costs 32 bytes of key rather than the whole cookie.
// Bounded (boundedcache): when a shard is full, an arbitrary entry of it is
// evicted.
type decodeCache struct {
	m *boundedcache.Cache[[32]byte, cachedSession]
}

type cachedSession struct {
	s       *Session // never mutated after insertion; hits get a copy
	rotated bool
}

// defaultCacheEntries bounds the cache's memory (a few MiB); sessions beyond
// it are decoded as before, only slower.
const defaultCacheEntries = 4096

func newDecodeCache(entries int) *decodeCache {
	return &decodeCache{m: boundedcache.New[[32]byte, cachedSession](entries, func(k [32]byte) uint64 {
		return binary.LittleEndian.Uint64(k[:8]) // already a uniform hash
	})}
}

// get returns a copy of the cached session (the Identity is shared and must
// be treated as read-only, as everywhere: callers Clone before changing it).
func (c *decodeCache) get(v string) (*Session, bool, bool) {
	e, ok := c.m.Get(digest(v))
	if !ok {
		return nil, false, false
	}
	cp := *e.s
	return &cp, e.rotated, true
}

func (c *decodeCache) put(v string, s *Session, rotated bool) {
	cp := *s
	c.m.Put(digest(v), cachedSession{s: &cp, rotated: rotated}, nil)
}

// digest is SHA-256 of a cookie value, hashed in place: []byte(v) would
// copy the ~600-byte value to the heap on every request. Sum256 only
// reads its input, so viewing the string's bytes is safe.
func digest(v string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(v), len(v)))
}
