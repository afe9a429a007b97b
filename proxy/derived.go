package proxy

import (
	"hash/maphash"

	"github.com/gatehouse-dev/gatehouse/headers"
	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/internal/boundedcache"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// derived is what a request needs from its session's identity under one
// configuration: the identity with the roles the rules give it, and its
// header values. Both are read-only once built.
type derived struct {
	id  *identity.Identity
	hdr *headers.Values
}

// deriveCache remembers derived identities by the session's *Identity.
// The session decode cache hands every request of a signed-in browser the
// same Identity pointer, so the clone, the pass over role definitions and
// the header sanitising are done once per identity instead of on every
// request. Each configuration state has its own cache (a reload starts
// empty, and the old one goes with the old state). Keys are pointers, so an
// entry keeps its Identity alive: the bound keeps that to a few MiB.
type deriveCache struct {
	policy *policy.Policy
	c      *boundedcache.Cache[*identity.Identity, *derived]
}

const deriveCacheEntries = 2048

func newDeriveCache(p *policy.Policy) *deriveCache {
	seed := maphash.MakeSeed()
	return &deriveCache{policy: p, c: boundedcache.New[*identity.Identity, *derived](deriveCacheEntries, func(k *identity.Identity) uint64 {
		return maphash.Comparable(seed, k)
	})}
}

// of returns src's derivation. src must be shared and read-only (a
// session's Identity); the result must not be changed.
func (dc *deriveCache) of(src *identity.Identity) *derived {
	if d, ok := dc.c.Get(src); ok {
		return d
	}
	d := derive(dc.policy, src)
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

func derive(p *policy.Policy, src *identity.Identity) *derived {
	id := src.Clone()
	id.Roles = p.Roles(id)
	return &derived{id: id, hdr: headers.ValuesOf(id)}
}
