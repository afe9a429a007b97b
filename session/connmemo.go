package session

import (
	"context"
	"hash/maphash"
	"sync/atomic"
)

// A browser sends the same Cookie header on every request of a keep-alive
// connection. connMemo remembers, per connection, the Cookie header line
// of the last request a CookieStore opened and the session it held, so the
// next request with the very same line skips finding the cookie in the
// header and looking it up in the decode cache. It is exact: a hit needs
// the whole line to be equal, and gives the session those bytes decode to
// (a copy, lifetimes checked as always). Only the cookie store uses it;
// the Redis store must ask Redis (or its invalidated cache) every time.
type connMemo struct {
	last atomic.Pointer[memoEntry] // atomic: HTTP/2 serves a connection's requests concurrently
}

type memoEntry struct {
	store   *CookieStore
	hash    uint64   // of line, compared first (see get)
	line    string   // the request's one Cookie header line
	sess    *Session // never mutated; hits get a copy
	rotated bool
}

type connMemoKey struct{}

// WithConnMemo returns ctx with a fresh per-connection memo; it is meant
// for http.Server.ConnContext. Requests served without one work the same,
// only without the memo.
func WithConnMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, connMemoKey{}, &connMemo{})
}

func connMemoOf(ctx context.Context) *connMemo {
	m, _ := ctx.Value(connMemoKey{}).(*connMemo)
	return m
}

// memoSeed keys the line hashes of every memo.
var memoSeed = maphash.MakeSeed()

// get returns a copy of the session remembered for exactly line. The lines
// are compared only when their seeded hashes are equal, that is when they
// are the same line: a connection shared by several users (behind a front
// proxy) learns nothing from how long a mismatch took to find.
func (m *connMemo) get(c *CookieStore, line string) (*Session, bool, bool) {
	e := m.last.Load()
	if e == nil || e.store != c || e.hash != maphash.String(memoSeed, line) || e.line != line {
		return nil, false, false
	}
	cp := *e.sess
	return &cp, e.rotated, true
}

func (m *connMemo) put(c *CookieStore, line string, s *Session, rotated bool) {
	cp := *s
	m.last.Store(&memoEntry{store: c, hash: maphash.String(memoSeed, line), line: line, sess: &cp, rotated: rotated})
}
