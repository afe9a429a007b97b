package assertion

import (
	"hash/maphash"
	"slices"
	"time"

	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/internal/boundedcache"
)

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

// cache is a bounded map of tokens (boundedcache: sharded, read-locked
// gets). A full shard drops an entry past its refresh time if it meets one
// early, else an arbitrary one. Entries are stored by pointer so that a hit
// copies one word, not the whole entry; they are never changed after put.
type cache struct {
	m *boundedcache.Cache[entryKey, *cached]
}

func newCache(size int) *cache {
	seed := maphash.MakeSeed()
	return &cache{m: boundedcache.New[entryKey, *cached](size, func(k entryKey) uint64 {
		return maphash.String(seed, k.key)
	})}
}

// get returns the cached token for k if it was signed by key generation
// gen for an identical identity and is not yet due for refresh at now.
func (c *cache) get(k entryKey, gen uint64, id *identity.Identity, now time.Time) (string, bool) {
	e, ok := c.m.Get(k)
	if !ok || e.gen != gen || !now.Before(e.refreshAt) || !e.who.matches(id) {
		return "", false
	}
	return e.token, true
}

func (c *cache) put(k entryKey, e cached, now time.Time) {
	c.m.Put(k, &e, func(old *cached) bool { return !now.Before(old.refreshAt) })
}

// len counts entries (tests).
func (c *cache) len() int { return c.m.Len() }
