package session

import (
	"crypto/sha256"
	"hash/maphash"
	"strings"
	"unsafe"

	"github.com/gatehouse-dev/gatehouse/internal/boundedcache"
)

// decodeCache remembers sessions already opened from an exact cookie value,
// so a browser's every request does not pay for HMAC verification, AES
// decryption and JSON parsing again: a hit means these exact bytes verified
// before under our keys, so it is as trustworthy as decoding them again.
// Lifetimes are still checked on every hit.
//
// Entries are found by a seeded 64-bit hash (hash/maphash) of the value,
// and a hit requires the value itself to match: an entry keeps the value
// when it is at most inlineValueBytes long (a typical session cookie is
// ~600 bytes) and compares it byte for byte, which saves hashing it with
// SHA-256 on every request (400 ns against 50); a longer value is kept as
// its SHA-256 digest, so a large (chunked) session cannot make an entry
// cost tens of KiB. Two values with the same 64-bit hash just take turns
// in one slot. Bounded (boundedcache): when a shard is full, an arbitrary
// entry of it is evicted.
type decodeCache struct {
	seed maphash.Seed
	m    *boundedcache.Cache[uint64, cachedSession]
}

type cachedSession struct {
	match   string   // the exact cookie value, or its SHA-256 digest when longer than inlineValueBytes
	s       *Session // never mutated after insertion; hits get a copy
	rotated bool
}

// inlineValueBytes is the longest cookie value an entry keeps as it is.
const inlineValueBytes = 2048

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
	if !ok {
		return nil, false, false
	}
	if len(v) <= inlineValueBytes {
		ok = e.match == v
	} else {
		d := digest(v)
		ok = e.match == string(d[:])
	}
	if !ok {
		return nil, false, false
	}
	cp := *e.s
	return &cp, e.rotated, true
}

func (c *decodeCache) put(v string, s *Session, rotated bool) {
	cp := *s
	// A copy of the value: v may point into the request's whole Cookie line.
	match := strings.Clone(v)
	if len(v) > inlineValueBytes {
		d := digest(v)
		match = string(d[:])
	}
	c.m.Put(maphash.String(c.seed, v), cachedSession{match: match, s: &cp, rotated: rotated}, nil)
}

// digest is SHA-256 of a cookie value, hashed in place: []byte(v) would
// copy it to the heap. Sum256 only reads its input, so viewing the
// string's bytes is safe.
func digest(v string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(v), len(v)))
}
