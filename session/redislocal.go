package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/boundedcache"
)

// invalidateChannel carries the names of session keys that a gatehouse
// process has rewritten or deleted, space-separated. Key names hold only
// SHA-256 hashes, so the channel reveals no ticket, identity or token.
const invalidateChannel = "gatehouse:invalidate"

// Health of the invalidation subscription. Every subscriptionPing the
// watcher publishes a probe on the channel itself, and only its own probe
// coming back through its subscription counts as heard: that proves the
// whole path an invalidation takes (this process may PUBLISH there, Redis
// delivers, this subscription receives), which a PING on the subscription
// does not (Redis ACLs can allow SUBSCRIBE and refuse PUBLISH, or the
// reverse). With nothing heard for subscriptionDead the subscription is
// taken as dead (a silent network failure sends no RST, so a blocked read
// alone would never notice).
const (
	subscriptionPing = time.Second
	subscriptionDead = 3 * time.Second
	resubscribeFirst = 50 * time.Millisecond
	resubscribeMax   = 2 * time.Second
)

// probePrefix starts every probe's payload, followed by the sending
// watcher's nonce. Key names start with "gatehouse:", so a probe is never
// taken for one (nor flushes the cache as an unreadable one would).
const probePrefix = "probe "

// Life of a cache entry. put inserts an entry pending and makes it live only
// once it has checked that nothing overtook its read; invalidate makes it
// dead, whatever it was. Only a live entry is ever served.
const (
	entryPending uint32 = iota
	entryLive
	entryDead
)

// localCache keeps sessions read from Redis in process memory, so a request
// whose session was read moments ago costs no Redis round trip. What keeps
// revocation immediate is the invalidation channel, not the clock: every
// gatehouse write to a session key is announced there after it succeeds,
// and every replica drops its copy when the announcement arrives. The cache
// is used only while this replica's subscription to the channel is known to
// be healthy; when it breaks, everything cached is forgotten and Load goes
// to Redis (so with Redis down it fails closed) until a new subscription is
// confirmed. Healthy means that this replica's own probe came back through
// the channel lately (see subscriptionPing). ttl bounds an entry's life
// anyway (it is capped at the session's ExpiresAt too), which covers changes
// made to Redis behind gatehouse's back and failures the health check has
// yet to notice.
//
// Entries are keyed by the SHA-256 of the ticket id (the hash that names the
// session key), never by the ticket, and a hit requires the ticket's own key
// as well, so holding a session's id alone opens nothing here either.
type localCache struct {
	ttl    time.Duration
	m      *boundedcache.Cache[[32]byte, *localEntry]
	client redis.UniversalClient
	log    *slog.Logger
	probe  string // this watcher's probe payload: probePrefix + random hex

	// ping and dead are subscriptionPing and subscriptionDead; tests
	// shorten them.
	ping, dead time.Duration

	// state is odd while the subscription is healthy and entries may be
	// used. Every change of health bumps it, and an entry is good only under
	// the state it was stored in, so a bump forgets the whole cache at once.
	// Changed under mu.
	state atomic.Uint64
	// inval counts invalidations received. A fetch that saw it change while
	// it was reading Redis does not trust what it read (see put).
	inval atomic.Uint64
	// probeWarned: a failed probe was logged at warn since the cache was
	// last healthy, so a lasting refusal (an ACL) is said once, not on every
	// resubscription.
	probeWarned atomic.Bool

	launched atomic.Bool // the watcher was started, or never will be (closed)
	mu       sync.Mutex  // guards what follows
	closed   bool
	cancel   context.CancelFunc
	ps       *redis.PubSub // the current subscription, for Close to break
	done     chan struct{} // closed when the watcher has returned

	// Test hooks, set before the first Load: onState on every change of
	// health, onInvalidate for each key name received on the channel,
	// onProbe after each probe is published (or fails to be), and
	// beforeInsert and afterInsert around put's insertion.
	onState      func(healthy bool)
	onInvalidate func(key string)
	onProbe      func(err error)
	beforeInsert func()
	afterInsert  func()
}

type localEntry struct {
	sess  *Session      // never mutated after insertion; hits get a copy
	key   []byte        // the ticket key that opened sess
	epoch uint64        // the cache's state when the read began
	until time.Time     // insertion + ttl, or ExpiresAt if sooner
	life  atomic.Uint32 // entryPending, entryLive or entryDead
}

func newLocalCache(ttl time.Duration, client redis.UniversalClient, log *slog.Logger) *localCache {
	if ttl <= 0 {
		return nil
	}
	return &localCache{
		ttl: ttl,
		m: boundedcache.New[[32]byte, *localEntry](defaultCacheEntries, func(k [32]byte) uint64 {
			return binary.LittleEndian.Uint64(k[:8]) // already a uniform hash
		}),
		client: client,
		log:    log,
		// Random, so that each replica hears only its own probe back.
		probe: probePrefix + hex.EncodeToString(randomBytes(16)),
		ping:  subscriptionPing,
		dead:  subscriptionDead,
	}
}

// fetchToken is what a fetch saw before it read Redis.
type fetchToken struct{ state, inval uint64 }

func (c *localCache) begin() fetchToken {
	if c == nil {
		return fetchToken{}
	}
	return fetchToken{state: c.state.Load(), inval: c.inval.Load()}
}

// get returns a copy of the session cached for t, if it may be used at now.
// The first call starts the watcher, whose subscription then enables the cache.
func (c *localCache) get(t ticket, now time.Time) (*Session, bool) {
	if c == nil {
		return nil, false
	}
	if !c.launched.Load() {
		c.launch()
	}
	st := c.state.Load()
	if st&1 == 0 {
		return nil, false
	}
	e, ok := c.m.Get(sha256.Sum256([]byte(t.id)))
	if !ok || e.epoch != st || e.life.Load() != entryLive || !now.Before(e.until) ||
		e.sess.ID != t.id || subtle.ConstantTimeCompare(e.key, t.key) != 1 {
		return nil, false
	}
	cp := *e.sess
	return &cp, true
}

// put caches s, read from Redis for t by a fetch that began with tok at now.
// An invalidation that arrives while the fetch was reading may be about the
// value it read, so such a value is not kept. The check comes after the
// insertion: invalidate counts before it looks the entry up, so either this
// check sees the count move, or the invalidation finds the new entry. Until
// the check has passed the entry is pending, which get treats as a miss: an
// invalidation counted before the insertion found nothing to mark, and
// only this check stands between the value it was about and a request for
// the same ticket. Passing the check, the entry goes live only if it is
// still pending: an invalidation that found it in the meantime made it
// dead, and dead stays dead.
func (c *localCache) put(t ticket, tok fetchToken, s *Session, now time.Time) {
	if c == nil || tok.state&1 == 0 || !now.Before(s.ExpiresAt) {
		return
	}
	until := now.Add(c.ttl)
	if s.ExpiresAt.Before(until) {
		until = s.ExpiresAt
	}
	cp := *s
	e := &localEntry{sess: &cp, key: bytes.Clone(t.key), epoch: tok.state, until: until} // pending
	if c.beforeInsert != nil {
		c.beforeInsert()
	}
	c.m.Put(sha256.Sum256([]byte(t.id)), e, func(o *localEntry) bool {
		return o.life.Load() == entryDead || o.epoch != tok.state || !now.Before(o.until)
	})
	if c.afterInsert != nil {
		c.afterInsert()
	}
	if c.inval.Load() != tok.inval || c.state.Load() != tok.state {
		e.life.Store(entryDead)
		return
	}
	e.life.CompareAndSwap(entryPending, entryLive)
}

// invalidate forgets the session stored under the key name sk. A name it
// cannot read forgets every session: dropping too much only costs GETs.
func (c *localCache) invalidate(sk string) {
	if c == nil {
		return
	}
	c.inval.Add(1)
	h, ok := sessionKeyHash(sk)
	if !ok {
		c.flush()
		return
	}
	if e, ok := c.m.Get(h); ok {
		e.life.Store(entryDead)
	}
}

// flush forgets every entry and keeps the cache's health as it is.
func (c *localCache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.state.Load(); st&1 == 1 {
		c.state.Store(st + 2)
	}
}

// setHealthy moves the cache to healthy or not; either way everything
// cached before is forgotten. It reports whether the health changed.
func (c *localCache) setHealthy(healthy bool) bool {
	c.mu.Lock()
	st := c.state.Load()
	changed := (st&1 == 1) != healthy
	if changed {
		c.state.Store(st + 1)
	}
	c.mu.Unlock()
	if changed && c.onState != nil {
		c.onState(healthy)
	}
	return changed
}

// sessionKeyHash reads the hash out of a session key name.
func sessionKeyHash(sk string) (h [32]byte, ok bool) {
	hx, ok := strings.CutPrefix(sk, keySession)
	if !ok || len(hx) != 2*len(h) {
		return h, false
	}
	_, err := hex.Decode(h[:], []byte(hx))
	return h, err == nil
}

// launch starts the watcher unless the store is closed.
func (c *localCache) launch() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.launched.Load() || c.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	c.launched.Store(true)
	go c.watch(ctx)
}

// close stops the watcher and waits for it; the cache stays off.
func (c *localCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.closed = true
	c.launched.Store(true)
	cancel, ps, done := c.cancel, c.ps, c.done
	c.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	if ps != nil {
		_ = ps.Close() // unblocks Receive, which does not watch ctx
	}
	<-done
}

// errClientClosed ends the watcher: the store's Redis client was closed.
var errClientClosed = errors.New("redis client closed")

// watch keeps a subscription to the invalidation channel, resubscribing
// with backoff, until ctx ends or the client is closed.
func (c *localCache) watch(ctx context.Context) {
	defer close(c.done)
	wait := resubscribeFirst
	refusedSaid := false // a refusal was logged at warn since the last healthy subscription
	for {
		wasHealthy, err := c.subscribe(ctx)
		if c.setHealthy(false) && ctx.Err() == nil {
			c.log.Warn("session invalidation subscription lost; sessions are read from Redis on every request until it is back", "err", err)
		}
		if ctx.Err() != nil || errors.Is(err, errClientClosed) {
			return
		}
		if wasHealthy {
			wait, refusedSaid = resubscribeFirst, false
		}
		// Redis answering SUBSCRIBE with an error (NOPERM from an ACL, say)
		// keeps the cache off for good, which nothing else would report.
		var refused redis.Error
		if errors.As(err, &refused) && !refusedSaid {
			refusedSaid = true
			c.log.Warn("session invalidation subscription refused by Redis; the local cache stays off and every Load reads Redis", "channel", invalidateChannel, "err", err)
		}
		c.log.Debug("session invalidation subscription failed", "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, resubscribeMax)
	}
}

// errProbeLost: the subscription was closed because none of this watcher's
// probes came back through it for subscriptionDead.
var errProbeLost = errors.New("no probe came back through the invalidation channel in time")

// subscribe runs one subscription until it fails, applying invalidations.
// It enables the cache when the first of its own probes comes back after
// Redis confirmed the subscription; it reports whether it got that far.
func (c *localCache) subscribe(ctx context.Context) (healthy bool, err error) {
	ps := c.client.Subscribe(ctx) // no channel yet: no I/O, so no error lost
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = ps.Close()
		return false, context.Canceled
	}
	c.ps = ps
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.ps = nil
		c.mu.Unlock()
		_ = ps.Close()
	}()
	if err := ps.Subscribe(ctx, invalidateChannel); err != nil {
		if errors.Is(err, redis.ErrClosed) && ctx.Err() == nil {
			return false, errClientClosed
		}
		return false, err
	}

	var heard atomic.Int64 // unix nanoseconds of the last own probe heard, or of the start
	heard.Store(time.Now().UnixNano())
	var lost atomic.Bool // the prober closed the subscription
	confirmed := make(chan struct{}, 1)
	stop := make(chan struct{})
	var prober sync.WaitGroup
	prober.Go(func() { c.probeLoop(ctx, ps, &heard, &lost, confirmed, stop) })
	defer prober.Wait()
	defer close(stop)

	subscribed := false
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			if lost.Load() {
				err = errProbeLost
			}
			return healthy, err
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == invalidateChannel && !subscribed {
				subscribed = true
				confirmed <- struct{}{} // the first probe goes out now
			}
		case *redis.Message:
			if strings.HasPrefix(m.Payload, probePrefix) {
				// Another replica's probe says nothing about this one.
				if m.Payload != c.probe || !subscribed {
					continue
				}
				heard.Store(time.Now().UnixNano())
				if !healthy {
					healthy = true
					c.probeWarned.Store(false)
					if c.setHealthy(true) {
						c.log.Info("session invalidation channel confirmed (this replica's probe came back through it); sessions read from Redis are reused for up to session.redis.local_cache", "local_cache", c.ttl.String())
					}
				}
				continue
			}
			for sk := range strings.FieldsSeq(m.Payload) {
				c.invalidate(sk)
				if c.onInvalidate != nil {
					c.onInvalidate(sk)
				}
			}
		}
	}
}

// probeLoop publishes this watcher's probe on the invalidation channel, the
// first time as soon as the subscription is confirmed and then every ping,
// through the client that announcements use. It closes the subscription
// (which makes Receive fail) when none of its probes has come back for
// dead. A probe that cannot be published (NOPERM from a Redis ACL, say) is
// never heard, so the cache stays off and every Load reads Redis: correct,
// only slower, and said once at warn until the cache is healthy again.
func (c *localCache) probeLoop(ctx context.Context, ps *redis.PubSub, heard *atomic.Int64, lost *atomic.Bool, confirmed <-chan struct{}, stop <-chan struct{}) {
	t := time.NewTicker(c.ping)
	defer t.Stop()
	subscribed := false
	for {
		select {
		case <-stop:
			return
		case <-confirmed:
			subscribed = true
		case <-t.C:
		}
		if time.Since(time.Unix(0, heard.Load())) > c.dead {
			lost.Store(true)
			_ = ps.Close()
			return
		}
		if !subscribed {
			continue // a probe sent before Redis took the SUBSCRIBE could not come back
		}
		pctx, cancel := context.WithTimeout(ctx, c.ping)
		err := c.client.Publish(pctx, invalidateChannel, c.probe).Err()
		cancel()
		if c.onProbe != nil {
			c.onProbe(err)
		}
		if err != nil && ctx.Err() == nil && !errors.Is(err, redis.ErrClosed) && c.probeWarned.CompareAndSwap(false, true) {
			c.log.Warn("session invalidation probe not published; while no probe comes back through the channel the local cache is off and every Load reads Redis", "channel", invalidateChannel, "err", err)
		}
	}
}

// announce tells every replica (this one directly) that the session keys
// were rewritten or deleted. It runs after the write, whatever its outcome:
// a write that failed may still have been applied, and a needless
// invalidation only costs a GET. The request's cancellation does not stop it.
// When the write succeeded but the announcement fails, other replicas may
// serve their copy until its local_cache bound.
func (s *RedisStore) announce(ctx context.Context, writeErr error, keys ...string) {
	if len(keys) == 0 {
		return
	}
	for _, k := range keys {
		s.local.invalidate(k)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), redisIOTimeout)
	defer cancel()
	if err := s.client.Publish(ctx, invalidateChannel, strings.Join(keys, " ")).Err(); err != nil {
		level := slog.LevelWarn
		if writeErr != nil {
			level = slog.LevelDebug // Redis is failing: replicas have turned their caches off
		}
		s.log.Log(ctx, level, "session invalidation not published; other replicas may reuse their copy for up to session.redis.local_cache", "keys", len(keys), "err", err)
	}
}

// sessionKeys returns the session key names among names.
func sessionKeys(names []string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, keySession) {
			out = append(out, n)
		}
	}
	return out
}

// Close stops the store's invalidation subscription (if Load started one)
// and turns the local cache off. It does not close the Redis client. The
// store still works after Close, reading Redis on every Load.
func (s *RedisStore) Close() error {
	s.local.close()
	return nil
}
