package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/internal/boundedcache"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/config"
)

// Redis key names. They hold only SHA-256 hashes: never an email, a subject,
// a token or the ticket itself.
const (
	keySession = "gatehouse:s:" // + hex(sha256(id)) → nonce‖AES-256-GCM(session JSON)
	keyMeta    = "gatehouse:m:" // + hex(sha256(id)) → hash {c: created, x: expires (unix), u: user index key, e: email index key or ""}
	keyUser    = "gatehouse:u:" // + hex(sha256(provider "\x00" subject)) → set of session key names
)

const (
	ticketIDBytes  = 16 // 128-bit session id
	ticketKeyBytes = 32 // AES-256 key, lives only in the cookie
)

// RedisStore keeps sessions in Redis and only a ticket "<id>.<key>" in the
// cookie. The ticket is itself sealed like a cookie-store value (HKDF-derived
// AES-256 + HMAC-SHA256, first secret seals, all open, Reissue on an older
// one), so forged or tampered tickets are rejected without a Redis round trip.
// The session is stored under gatehouse:s:<sha256(id)>, encrypted with
// AES-256-GCM under the ticket's per-session key (the key name as associated
// data), so a dump of Redis reveals no identity or token; it expires by TTL
// at ExpiresAt. A per-user index (gatehouse:u:…, plus a plaintext hash of
// created/expires per session) supports RevokeUser and ListUser.
//
// Clear deletes the session from Redis, so a copied cookie stops working.
// A network failure is reported as ErrUnavailable; the caller must keep the
// cookie and fail closed. RedisStore is safe for concurrent use.
type RedisStore struct {
	cookieBase
	client redis.UniversalClient
	// atomicIndex: client is one server (or Sentinel's master), so the
	// index update of a Save can be one MULTI/EXEC; a Cluster refuses one
	// across slots, and the keys of a session and its indexes lie in
	// different slots.
	atomicIndex bool

	// Decoded tickets (by cookie value) and session values (by key name and
	// exact stored bytes), so a GET does not pay for opening the same bytes
	// again. Digests as keys; bounded.
	tickets *decodeCache
	values  *boundedcache.Cache[[32]byte, *Session]
	// local spares the GET itself for a short while, as long as the
	// invalidation channel keeps revocation immediate (see localCache); nil
	// with session.redis.local_cache: 0.
	local *localCache
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore returns a Redis-backed store using client (see
// NewRedisClient). It does not contact Redis; use Ping for readiness. With
// a local cache (cfg.Redis.LocalCache, 2s unless set), the first Load starts
// a goroutine subscribed to the invalidation channel: call Close before
// closing the client.
func NewRedisStore(client redis.UniversalClient, cfg config.Session, opts Options) (*RedisStore, error) {
	if client == nil {
		return nil, errors.New("session: redis store: nil client")
	}
	base, err := newCookieBase(cfg, opts, purposeTicket)
	if err != nil {
		return nil, err
	}
	_, single := client.(*redis.Client)
	return &RedisStore{
		cookieBase:  base,
		client:      client,
		atomicIndex: single,

		tickets: newDecodeCache(defaultCacheEntries),
		values: boundedcache.New[[32]byte, *Session](defaultCacheEntries, func(k [32]byte) uint64 {
			return binary.LittleEndian.Uint64(k[:8])
		}),
		local: newLocalCache(cfg.Redis.LocalCacheOrDefault(), client, base.log),
	}, nil
}

// Name returns the session cookie's name.
func (s *RedisStore) Name() string { return s.name }

// ticket is the cookie's content: which session, and the key to open it.
type ticket struct {
	id  string
	key []byte
}

func (t ticket) sessionKey() string { return keySession + hashHex(t.id) }
func (t ticket) metaKey() string    { return keyMeta + hashHex(t.id) }

func hashHex(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])
}

func userKey(provider, subject string) string { return keyUser + hashHex(provider, subject) }

// emailIndex is the pseudo-provider of the by-email index; the NUL keeps it
// apart from every configurable provider id.
const emailIndex = "\x00email"

func emailKey(email string) string { return userKey(emailIndex, strings.ToLower(email)) }

// readTicket returns the first cookie value of our name that opens as a
// well-formed ticket; ErrNoSession without one, ErrInvalid for a bad one.
func (s *RedisStore) readTicket(r *http.Request) (ticket, bool, error) {
	values, err := sessionValues(r, s.name)
	if err != nil {
		return ticket{}, false, err
	}
	for _, v := range values {
		if t, rotated, ok := s.openTicket(v); ok {
			return t, rotated, nil
		}
	}
	return ticket{}, false, ErrInvalid
}

// openTicket verifies one candidate cookie value as a ticket.
func (s *RedisStore) openTicket(v string) (ticket, bool, bool) {
	if c, rotated, ok := s.tickets.get(v); ok {
		return ticket{id: c.ID, key: []byte(c.ticketKey)}, rotated, true
	}
	b, rotated, err := s.seal.open(s.name, v)
	if err != nil {
		return ticket{}, false, false
	}
	id, k, ok := strings.Cut(string(b), ".")
	idb, err1 := base64.RawURLEncoding.DecodeString(id)
	key, err2 := base64.RawURLEncoding.DecodeString(k)
	if !ok || err1 != nil || err2 != nil || len(idb) != ticketIDBytes || len(key) != ticketKeyBytes {
		return ticket{}, false, false
	}
	// The decode cache holds sessions; a ticket rides in ID and ticketKey.
	s.tickets.put(v, &Session{ID: id, ticketKey: string(key)}, rotated)
	return ticket{id: id, key: key}, rotated, true
}

// loadOne returns t's session, checked against the lifetimes.
func (s *RedisStore) loadOne(ctx context.Context, t ticket, rotated bool, now time.Time) (*Session, error) {
	sess, ok := s.local.get(t, now)
	if !ok {
		var err error
		if sess, err = s.fetch(ctx, t, now); err != nil {
			return nil, err
		}
	}
	if err := s.life.check(sess, now); err != nil {
		return nil, err
	}
	sess.Reissue = sess.Reissue || rotated
	sess.ticketKey = string(t.key)
	return sess, nil
}

// loadCandidates loads the session of the request's ticket cookies of our
// name, usually one. A sibling subdomain may plant another with its own
// Domain or Path: two live sessions of different users are ErrInvalid, as
// with cookie sessions, rather than whichever ticket comes first.
func (s *RedisStore) loadCandidates(ctx context.Context, values []string, now time.Time) (*Session, error) {
	var found *Session
	err := error(ErrInvalid)
	for _, v := range values {
		t, rotated, ok := s.openTicket(v)
		if !ok || found != nil && found.ID == t.id {
			continue
		}
		sess, lerr := s.loadOne(ctx, t, rotated, now)
		switch {
		case errors.Is(lerr, ErrUnavailable):
			return nil, lerr
		case lerr != nil:
			err = lerr
		case found == nil:
			found = sess
		case !sameUser(found, sess):
			s.log.Warn("two session tickets for different users; rejecting both", "cookie", s.name)
			return nil, ErrInvalid
		}
	}
	if found == nil {
		return nil, err
	}
	return found, nil
}

func unavailable(op string, err error) error {
	return fmt.Errorf("session: redis %s: %w: %w", op, ErrUnavailable, err)
}

// Load returns the request's session. No cookie, or a ticket whose session is
// gone from Redis (redis.Nil: expired, cleared, revoked), is ErrNoSession; a
// ticket that fails to verify, or a value that fails to decrypt, is
// ErrInvalid; an ended session is ErrExpired. Any other Redis error is
// wrapped with ErrUnavailable: the caller must answer 503 and keep the cookie.
// A session read moments ago may come from the local cache instead of Redis
// (see localCache); lifetimes are checked either way. Load never writes to
// the response.
func (s *RedisStore) Load(r *http.Request) (*Session, error) {
	values, err := sessionValues(r, s.name)
	if err != nil {
		return nil, err
	}
	return s.loadCandidates(r.Context(), values, s.now())
}

// fetch reads t's session from Redis, returning a copy the caller owns, and
// offers it to the local cache.
func (s *RedisStore) fetch(ctx context.Context, t ticket, now time.Time) (*Session, error) {
	tok := s.local.begin()
	sk := t.sessionKey()
	blob, err := s.client.Get(ctx, sk).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, ErrNoSession
	case err != nil:
		return nil, unavailable("get", err)
	}
	vk := valueKey(sk, blob)
	var sess *Session
	if cached, ok := s.values.Get(vk); ok {
		cp := *cached
		sess = &cp
	} else {
		plain, err := openValue(t.key, sk, blob)
		if err != nil {
			s.log.Debug("redis session rejected", "reason", "decrypt")
			return nil, ErrInvalid
		}
		if sess, err = unmarshal(plain); err != nil || sess.ID != t.id {
			return nil, ErrInvalid
		}
		cp := *sess
		s.values.Put(vk, &cp, nil)
	}
	s.local.put(t, tok, sess, now)
	return sess, nil
}

// Save stores sess in Redis (TTL = time left until ExpiresAt) and then sets
// the ticket cookie; when Redis fails (ErrUnavailable) no cookie is written.
// A session without ID gets a fresh ticket (new id and key: no fixation), and
// the session of the ticket the request carried, if any, is deleted. A
// loaded session is rewritten in place under its ticket, but only while it
// still exists: one revoked (Clear, RevokeUser) or expired since Load is not
// brought back, and Save returns ErrNoSession. If a session's key is not
// known (neither remembered by Load nor in the request's matching ticket), a
// fresh ticket is issued instead.
func (s *RedisStore) Save(w http.ResponseWriter, r *http.Request, sess *Session) error {
	if sess == nil {
		return errors.New("session: save: nil session")
	}
	now := s.now()
	st := *sess
	t := ticket{id: st.ID, key: []byte(st.ticketKey)}
	if t.id != "" && len(t.key) != ticketKeyBytes {
		// The caller kept the ID but not the key: look for our ticket.
		if rt, _, err := s.readTicket(r); err == nil && rt.id == t.id {
			t.key = rt.key
		} else {
			t = ticket{}
		}
	}
	rewrite := t.id != ""
	var replaced []string
	if !rewrite {
		t = ticket{id: newID(), key: randomBytes(ticketKeyBytes)}
		if old, _, err := s.readTicket(r); err == nil {
			replaced = []string{old.sessionKey(), old.metaKey()}
		}
	}
	st.ID = t.id
	if err := s.life.stamp(&st, now); err != nil {
		return err
	}
	plain, err := marshal(&st)
	if err != nil {
		return err
	}
	blob, err := sealValue(t.key, t.sessionKey(), plain)
	if err != nil {
		return err
	}
	cookie, err := s.seal.seal(s.name, []byte(t.id+"."+base64.RawURLEncoding.EncodeToString(t.key)))
	if err != nil {
		return err
	}
	ttl := st.ExpiresAt.Sub(now)
	if err := s.store(r.Context(), t, userKey(st.Identity.Provider, st.Identity.Subject), blob, st, ttl, rewrite, replaced); err != nil {
		return err
	}
	if err := s.attrs.write(w, r, s.name, cookie, ttl); err != nil {
		return err
	}
	st.ticketKey = string(t.key)
	*sess = st
	return nil
}

// store writes the session, its metadata and its index entries (by user
// and by email), and deletes the keys in replaced (the session this browser
// held before a new login, so a copy of its old cookie dies with it; its
// index entry is pruned lazily). A rewrite in place uses SET XX: a session
// revoked or expired since it was loaded is not resurrected (ErrNoSession).
// It also reads the indexes the session was filed under, and moves the
// session out of those it no longer belongs to: the identity may have
// changed user, or email (a local user's email changed in the users file),
// and revoking by the old email must not end it, nor by the new one miss it.
//
// The index update is one MULTI/EXEC on a single server (see atomicIndex),
// so no reader sees the session filed under neither email, or under both.
// On a Cluster the keys lie in different slots and it is a plain pipeline:
// the new entries are queued before the old ones are removed, but that
// orders them only where both keys are on one node.
func (s *RedisStore) store(ctx context.Context, t ticket, uk string, blob []byte, st Session, ttl time.Duration, rewrite bool, replaced []string) error {
	sk, mk := t.sessionKey(), t.metaKey()
	var oldUser, oldEmail string
	if rewrite {
		p := s.client.Pipeline()
		oldCmd := p.HMGet(ctx, mk, "u", "e")
		setCmd := p.SetXX(ctx, sk, blob, ttl)
		_, err := p.Exec(ctx)
		if errors.Is(err, redis.Nil) {
			err = nil // the SET XX decides
		}
		if err != nil || setCmd.Val() {
			s.announce(ctx, err, sk)
		}
		if err != nil {
			return unavailable("save", err)
		}
		if !setCmd.Val() {
			return fmt.Errorf("session: save: %w: revoked or expired since loaded", ErrNoSession)
		}
		// No metadata (expired apart): nil fields, nothing to move.
		if old := oldCmd.Val(); len(old) == 2 {
			oldUser, _ = old[0].(string)
			oldEmail, _ = old[1].(string)
		}
	}
	var p redis.Pipeliner
	if s.atomicIndex {
		p = s.client.TxPipeline()
	} else {
		p = s.client.Pipeline()
	}
	ek := ""
	if st.Identity != nil && st.Identity.Email != "" {
		ek = emailKey(st.Identity.Email)
	}
	for _, k := range replaced {
		p.Del(ctx, k)
		if strings.HasPrefix(k, keySession) {
			// Usually the same user signing in again: its index entries go
			// now, or an active user's indexes would only ever grow.
			p.SRem(ctx, uk, k)
			if ek != "" {
				p.SRem(ctx, ek, k)
			}
		}
	}
	if !rewrite {
		p.Set(ctx, sk, blob, ttl)
	}
	p.HSet(ctx, mk, "c", st.CreatedAt.Unix(), "x", st.ExpiresAt.Unix(), "u", uk, "e", ek)
	p.PExpire(ctx, mk, ttl)
	p.SAdd(ctx, uk, sk)
	extendTTL.Eval(ctx, p, []string{uk}, ttl.Milliseconds())
	if ek != "" {
		// A second index by verified email, for "revoke every session of
		// alice@example.com" whatever provider she signed in with.
		p.SAdd(ctx, ek, sk)
		extendTTL.Eval(ctx, p, []string{ek}, ttl.Milliseconds())
	}
	if oldUser != "" && oldUser != uk {
		p.SRem(ctx, oldUser, sk)
	}
	if oldEmail != "" && oldEmail != ek {
		p.SRem(ctx, oldEmail, sk)
	}
	_, err := p.Exec(ctx)
	s.announce(ctx, err, sessionKeys(replaced)...)
	if err != nil {
		return unavailable("save", err)
	}
	return nil
}

// extendTTL sets a key's TTL to ARGV[1] ms unless it already lives longer,
// so a user index outlives its longest session (works before Redis 7's GT).
var extendTTL = redis.NewScript(`
local t = redis.call('PTTL', KEYS[1])
if t >= 0 and t >= tonumber(ARGV[1]) then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[1])`)

// Clear deletes the request's session from Redis (and from its indexes)
// and then expires the session cookie and any chunks with Max-Age=0. When
// Redis cannot be reached the error wraps ErrUnavailable and the cookie is
// kept: the session is still live server-side, and a browser without its
// cookie could never sign out of it again (a copied cookie would keep
// working for the whole lifetime).
func (s *RedisStore) Clear(w http.ResponseWriter, r *http.Request) error {
	t, _, err := s.readTicket(r)
	if err == nil {
		if err := s.remove(r.Context(), t.sessionKey(), t.metaKey()); err != nil {
			return err
		}
	}
	s.attrs.clear(w, r, s.name) // also a foreign or broken cookie of our name
	return nil
}

// remove deletes one session, its metadata and its index entries.
func (s *RedisStore) remove(ctx context.Context, sk, mk string) error {
	idx, err := s.client.HMGet(ctx, mk, "u", "e").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return unavailable("clear", err)
	}
	p := s.client.Pipeline()
	p.Del(ctx, sk)
	p.Del(ctx, mk)
	for _, k := range idx {
		if k, ok := k.(string); ok && k != "" {
			p.SRem(ctx, k, sk)
		}
	}
	_, err = p.Exec(ctx)
	s.announce(ctx, err, sk)
	if err != nil {
		return unavailable("clear", err)
	}
	return nil
}
