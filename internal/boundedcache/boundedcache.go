// Package boundedcache is a sharded, size-bounded, concurrency-safe map for
// caches on the request path (verified bearer tokens, signed assertions,
// decoded session cookies). It never grows past its bound: inserting a new
// key into a full shard first evicts, preferring entries the caller says
// have expired. It has no clock, no background goroutine and no TTL of its
// own; what "expired" means is the caller's to say on each Put, and whether
// a hit is still good is the caller's to check after Get.
package boundedcache

import "sync"

// Shards is the number of independently locked shards of a Cache.
const Shards = 32

// scanLimit is how many entries a Put into a full shard looks at for
// expired ones before it evicts an arbitrary entry instead.
const scanLimit = 8

// Cache is a map from K to V bounded to about the size given to New. The
// zero value is not usable; call New. All methods are safe for concurrent
// use. Values are stored and returned by value: a V holding pointers shares
// what they point to with every caller of Get, so such values must be
// treated as read-only (copy before changing them). On a hot path keep V
// small, a pointer to an immutable entry say: Get copies V out of the map,
// and copying a larger struct through generic code costs more than the
// lookup.
type Cache[K comparable, V any] struct {
	hash     func(K) uint64
	perShard int
	shards   [Shards]shard[K, V]
}

type shard[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

// New returns an empty cache holding at most max(1, entries/Shards) entries
// per shard, so at most entries in all when entries >= Shards (and at most
// Shards when it is smaller). hash picks a key's shard; it must be
// deterministic, and it should be seeded (hash/maphash) or already uniform
// (a cryptographic digest) so that clients cannot aim many keys at one
// shard. New panics if hash is nil.
func New[K comparable, V any](entries int, hash func(K) uint64) *Cache[K, V] {
	if hash == nil {
		panic("boundedcache: New: nil hash")
	}
	c := &Cache[K, V]{hash: hash, perShard: max(1, entries/Shards)}
	for i := range c.shards {
		c.shards[i].m = make(map[K]V)
	}
	return c
}

func (c *Cache[K, V]) shard(k K) *shard[K, V] {
	return &c.shards[c.hash(k)%Shards]
}

// Get returns the value stored under k and whether there was one. It takes
// one shard's read lock. It does not judge expiry: an expired entry stays
// until Put evicts it or overwrites it, so the caller must check the value.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	s := c.shard(k)
	s.mu.RLock()
	v, ok := s.m[k]
	s.mu.RUnlock()
	return v, ok
}

// Put stores v under k, replacing any value there. When k is new and its
// shard is full, Put first looks at up to 8 entries of the shard and evicts
// those for which expired reports true; if none did (or expired is nil) it
// evicts one arbitrary entry. expired is called with the shard locked and
// must not use the cache.
func (c *Cache[K, V]) Put(k K, v V, expired func(V) bool) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; !ok && len(s.m) >= c.perShard {
		s.evict(expired)
	}
	s.m[k] = v
}

// evict removes the expired entries among the first few it meets, else one
// arbitrary entry. The caller holds s.mu.
func (s *shard[K, V]) evict(expired func(V) bool) {
	if expired != nil {
		evicted, seen := false, 0
		for k, v := range s.m {
			if expired(v) {
				delete(s.m, k)
				evicted = true
			}
			if seen++; seen == scanLimit {
				break
			}
		}
		if evicted {
			return
		}
	}
	for k := range s.m { // map order is unspecified: an arbitrary victim
		delete(s.m, k)
		return
	}
}

// Len returns the number of entries, expired ones included. It locks each
// shard in turn, so under concurrent Puts it is only approximate.
func (c *Cache[K, V]) Len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.RLock()
		n += len(c.shards[i].m)
		c.shards[i].mu.RUnlock()
	}
	return n
}
