package proxy

import (
	"hash/maphash"

	"github.com/gatehouse-dev/gatehouse/headers"
	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/internal/boundedcache"
)

// derived is what a request needs from its session's identity under one
// configuration: the identity with the roles the rules give it, and its
// header values. Both are read-only once built.
type derived struct {
	st  *state
	id  *identity.Identity
	hdr *headers.Values
}

// deriveCache remembers derived identities by the session's *Identity.
// The session decode cache hands every request of a signed-in browser the
// same Identity pointer, so the clone, the pass over role definitions and
// the header sanitising are done once per identity and configuration
// instead of on every request. An entry built under an older state (a
// config reload) is rebuilt. Keys are pointers, so an entry keeps its
// Identity alive: the bound keeps that to a few MiB.
type deriveCache struct {
	c *boundedcache.Cache[*identity.Identity, *derived]
}

const deriveCacheEntries = 2048

func newDeriveCache() *deriveCache {
	seed := maphash.MakeSeed()
	return &deriveCache{c: boundedcache.New[*identity.Identity, *derived](deriveCacheEntries, func(k *identity.Identity) uint64 {
		return maphash.Comparable(seed, k)
	})}
}

// of returns src's derivation under st. src must be shared and read-only
// (a session's Identity); the result must not be changed.
func (dc *deriveCache) of(st *state, src *identity.Identity) *derived {
	if d, ok := dc.c.Get(src); ok && d.st == st {
		return d
	}
	d := derive(st, src)
	dc.c.Put(src, d, nil)
	return d
}

// identity is d's identity, nil for an anonymous caller (nil d).
func (d *derived) identity() *identity.Identity {
	if d == nil {
		return nil
	}
	return d.id
}

func derive(st *state, src *identity.Identity) *derived {
	id := src.Clone()
	id.Roles = st.policy.Roles(id)
	return &derived{st: st, id: id, hdr: headers.ValuesOf(id)}
}
