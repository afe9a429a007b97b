package bearer

import (
	"encoding/binary"
	"time"

	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/internal/boundedcache"
)

// verified is a cached successful verification.
type verified struct {
	id   *identity.Identity // never handed out; callers get a Clone
	exp  time.Time          // the token's exp (without leeway)
	is   *issuer
	keys *keySnapshot // the key set that verified it
}

// cache remembers successful verifications by SHA-256 of the raw token, so a
// client reusing its token costs a hash and a map lookup instead of a
// signature check. It is bounded (boundedcache): a full shard drops an
// expired entry if it meets one early, else an arbitrary one. Entries are
// stored by pointer (a hit copies a word out of the map, not the entry) and
// are never changed after put.
type cache struct {
	m *boundedcache.Cache[[32]byte, *verified]
}

func newCache(size int) *cache {
	return &cache{m: boundedcache.New[[32]byte, *verified](size, shardOf)}
}

// shardOf spreads keys by their first bytes: they are SHA-256 digests, so
// already uniform, and a client cannot aim tokens at one shard.
func shardOf(k [32]byte) uint64 { return uint64(binary.LittleEndian.Uint32(k[:4])) }

// get returns the entry for k if it is still good at now: unexpired, and
// verified with the issuer's current key set, which is not due for a
// refresh (a refetch invalidates the entry, so a key removed from the JWKS
// stops working for cached tokens too).
func (c *cache) get(k [32]byte, now time.Time) (verified, bool) {
	e, ok := c.m.Get(k)
	if !ok || !now.Before(e.exp) || e.is.keys.snap.Load() != e.keys || now.Sub(e.keys.fetchedAt) > e.is.keys.maxAge {
		return verified{}, false
	}
	return *e, true
}

func (c *cache) put(k [32]byte, e verified, now time.Time) {
	c.m.Put(k, &e, func(old *verified) bool { return !now.Before(old.exp) })
}

// len counts entries (tests).
func (c *cache) len() int { return c.m.Len() }
