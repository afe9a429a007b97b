package session_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
	"github.com/gatehouse-dev/gatehouse/session"
	"github.com/gatehouse-dev/gatehouse/session/sessiontest"
)

// eventWait bounds how long a test waits for the watcher to report
// something; the resubscription backoff tops out at 2s.
const eventWait = 15 * time.Second

// cmdCounter counts the commands a go-redis client sends, by name.
type cmdCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *cmdCounter) add(cmds ...redis.Cmder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cmd := range cmds {
		c.n[cmd.Name()]++
	}
}

// take returns how many name commands were sent since the last take.
func (c *cmdCounter) take(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n[name]
	delete(c.n, name)
	return n
}

func (c *cmdCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *cmdCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.add(cmd)
		return next(ctx, cmd)
	}
}

func (c *cmdCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.add(cmds...)
		return next(ctx, cmds)
	}
}

// replica is one gatehouse process on a shared Redis: its own client (whose
// commands are counted), its store, and what its local cache reports.
type replica struct {
	st      *session.RedisStore
	client  redis.UniversalClient
	cmds    *cmdCounter
	healthy chan bool
	inval   chan string
}

func newReplica(t *testing.T, addr string, now func() time.Time, localCache time.Duration, cfgs ...func(*config.Session)) *replica {
	t.Helper()
	return newReplicaOn(t, redisClient(t, addr), nil, now, localCache, cfgs...)
}

// newReplicaOn is newReplica on a client of the test's own (another Redis
// user, say), logging to log (nil: nowhere).
func newReplicaOn(t *testing.T, client redis.UniversalClient, log *slog.Logger, now func() time.Time, localCache time.Duration, cfgs ...func(*config.Session)) *replica {
	t.Helper()
	r := &replica{cmds: &cmdCounter{n: map[string]int{}}, healthy: make(chan bool, 64), inval: make(chan string, 1024)}
	r.client = client
	r.client.AddHook(r.cmds)
	cfg := testConfig()
	cfg.Store = "redis"
	cfg.Redis.LocalCache = &localCache
	for _, f := range cfgs {
		f(&cfg)
	}
	st, err := session.NewRedisStore(r.client, cfg, session.Options{Now: now, Logger: log})
	if err != nil {
		t.Fatalf("NewRedisStore: %v", err)
	}
	t.Cleanup(func() { st.Close() }) // before the client's Close: cleanups run last-in first-out
	if localCache > 0 {
		session.SetLocalCacheHooks(st,
			func(h bool) { r.healthy <- h },
			func(k string) {
				select {
				case r.inval <- k:
				default: // a test waiting for a key then fails on its deadline
				}
			})
	}
	r.st = st
	return r
}

// waitHealthy waits until the subscription's health becomes want.
func (r *replica) waitHealthy(t *testing.T, want bool) {
	t.Helper()
	deadline := time.After(eventWait)
	for {
		select {
		case h := <-r.healthy:
			if h == want {
				return
			}
		case <-deadline:
			t.Fatalf("the invalidation subscription did not become healthy=%v", want)
		}
	}
}

// waitInvalidated waits until the replica hears that the session with id
// changed.
func (r *replica) waitInvalidated(t *testing.T, id string) {
	t.Helper()
	sum := sha256.Sum256([]byte(id))
	want := "gatehouse:s:" + hex.EncodeToString(sum[:])
	deadline := time.After(eventWait)
	for {
		select {
		case k := <-r.inval:
			if k == want {
				return
			}
		case <-deadline:
			t.Fatalf("no invalidation of %s arrived", want)
		}
	}
}

func (r *replica) load(t *testing.T, j *sessiontest.Jar) *session.Session {
	t.Helper()
	s, err := r.st.Load(j.Request("/"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

// warm brings j's session into the replica's local cache (the first Load
// starts the subscription, which must be confirmed before anything is
// cached), and proves that the next Load sends no GET.
func (r *replica) warm(t *testing.T, j *sessiontest.Jar) *session.Session {
	t.Helper()
	if _, err := r.st.Load(j.Request("/")); err != nil {
		t.Fatalf("first Load: %v", err)
	}
	r.waitHealthy(t, true)
	r.load(t, j) // read from Redis, now kept
	r.cmds.take("get")
	s := r.load(t, j)
	if n := r.cmds.take("get"); n != 0 {
		t.Fatalf("cached Load sent %d GETs, want 0", n)
	}
	return s
}

// TestRedisLocalCacheSkipsRedis: a session read moments ago loads with no
// Redis command at all, as the same value Load returns from Redis, as a copy
// the caller may change, and still with the ticket key Save needs to
// rewrite it in place.
func TestRedisLocalCacheSkipsRedis(t *testing.T) {
	a := newReplica(t, testpeers.Redis(t), time.Now, 2*time.Second)
	var j sessiontest.Jar
	sessiontest.Save(t, a.st, &j, sessiontest.Sample(time.Now()))
	fromRedis, err := a.st.Load(j.Request("/"))
	if err != nil {
		t.Fatal(err)
	}
	cached := a.warm(t, &j)
	if cached.ID != fromRedis.ID || cached.Tokens != fromRedis.Tokens || cached.Identity.Email != fromRedis.Identity.Email ||
		!cached.ExpiresAt.Equal(fromRedis.ExpiresAt) || cached.Reissue {
		t.Fatalf("cached Load = %+v, want %+v", cached, fromRedis)
	}

	a.cmds.take("get")
	cached.Tokens.AccessToken = "changed by the caller"
	if again := a.load(t, &j); again.Tokens.AccessToken != fromRedis.Tokens.AccessToken {
		t.Errorf("a caller's change reached the cache: %q", again.Tokens.AccessToken)
	}
	if n := a.cmds.take("get"); n != 0 {
		t.Errorf("cached Loads sent %d GETs", n)
	}

	// Saved from a cached Load: rewritten in place (the ticket key rode
	// along), and this replica reads the new value at once.
	sessiontest.Save(t, a.st, &j, cached)
	if cached.ID != fromRedis.ID {
		t.Fatalf("Save of a cached session issued a new ticket: %q → %q", fromRedis.ID, cached.ID)
	}
	if got := a.load(t, &j); got.Tokens.AccessToken != "changed by the caller" {
		t.Errorf("after a rewrite on this replica, Load = %q", got.Tokens.AccessToken)
	}
	if n := a.cmds.take("get"); n != 1 {
		t.Errorf("Load after a rewrite sent %d GETs, want 1", n)
	}
}

// TestRedisLocalCacheInvalidation: two replicas on one Redis. A session
// cached on A is changed or ended on B; as soon as B's announcement reaches
// A (never on a timer), A reads Redis again and sees the change.
func TestRedisLocalCacheInvalidation(t *testing.T) {
	addr := testpeers.Redis(t)
	ctx := context.Background()
	tests := []struct {
		name string
		// change runs on B against the session in j and returns the access
		// token A must now see ("" for none: the session must be gone).
		change func(t *testing.T, b *replica, j *sessiontest.Jar) string
	}{
		{"RevokeUser", func(t *testing.T, b *replica, _ *sessiontest.Jar) string {
			if n, err := b.st.RevokeUser(ctx, "corp", "248289761001"); err != nil || n != 1 {
				t.Fatalf("RevokeUser = %d, %v", n, err)
			}
			return ""
		}},
		{"RevokeEmail", func(t *testing.T, b *replica, _ *sessiontest.Jar) string {
			if n, err := b.st.RevokeEmail(ctx, "ALICE@example.com"); err != nil || n != 1 {
				t.Fatalf("RevokeEmail = %d, %v", n, err)
			}
			return ""
		}},
		{"Clear", func(t *testing.T, b *replica, j *sessiontest.Jar) string {
			if err := b.st.Clear(httptest.NewRecorder(), j.Request("/")); err != nil {
				t.Fatal(err)
			}
			return ""
		}},
		{"Save rewrite", func(t *testing.T, b *replica, j *sessiontest.Jar) string {
			s := b.load(t, j)
			s.Tokens.AccessToken = "refreshed-on-b"
			sessiontest.Save(t, b.st, j, s)
			return "refreshed-on-b"
		}},
		{"new login replaces the session", func(t *testing.T, b *replica, j *sessiontest.Jar) string {
			// The same browser signs in again; j keeps the old cookie.
			if err := b.st.Save(httptest.NewRecorder(), j.Request("/"), sessiontest.Sample(time.Now())); err != nil {
				t.Fatal(err)
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newReplica(t, addr, time.Now, time.Minute)
			b := newReplica(t, addr, time.Now, time.Minute)
			var j sessiontest.Jar
			sessiontest.Save(t, a.st, &j, sessiontest.Sample(time.Now()))
			id := a.warm(t, &j).ID

			want := tt.change(t, b, &j)
			a.waitInvalidated(t, id)
			s, err := a.st.Load(j.Request("/"))
			switch {
			case want == "" && !errors.Is(err, session.ErrNoSession):
				t.Errorf("Load on A after %s on B = %v, %v; want ErrNoSession", tt.name, s, err)
			case want != "" && (err != nil || s.Tokens.AccessToken != want):
				t.Errorf("Load on A after %s on B = %+v, %v; want access token %q", tt.name, s, err, want)
			}
			if n := a.cmds.take("get"); n != 1 {
				t.Errorf("A sent %d GETs after the invalidation, want 1", n)
			}
		})
	}
}

// TestRedisLocalCacheRevokedDuringFetch: the race where A reads a session
// from Redis just before B revokes it, and A hears B's announcement before
// it has stored what it read (so the announcement finds nothing to drop).
// A must not keep that value, and no request for the same ticket may be
// served it in the moment between A storing it and A noticing that an
// announcement overtook its read.
func TestRedisLocalCacheRevokedDuringFetch(t *testing.T) {
	ctx := context.Background()
	addr := testpeers.Redis(t)
	a := newReplica(t, addr, time.Now, time.Minute)
	b := newReplica(t, addr, time.Now, 0) // like `gatehouse sessions revoke`
	var j sessiontest.Jar
	sessiontest.Save(t, a.st, &j, sessiontest.Sample(time.Now()))
	id := a.load(t, &j).ID // starts the subscription; nothing is kept before it is healthy
	a.waitHealthy(t, true)

	var before, after atomic.Bool
	before.Store(true)
	after.Store(true)
	concurrent := make(chan error, 1)
	session.SetLocalCachePutHooks(a.st, func() {
		if !before.CompareAndSwap(true, false) {
			return
		}
		// A's GET has been answered; now B revokes, and A processes the
		// announcement before inserting what it read.
		if n, err := b.st.RevokeUser(ctx, "corp", "248289761001"); err != nil || n != 1 {
			t.Errorf("RevokeUser = %d, %v", n, err)
		}
		a.waitInvalidated(t, id)
	}, func() {
		if !after.CompareAndSwap(true, false) {
			return
		}
		// Inserted but not yet checked: another request for the ticket.
		go func() {
			s, err := a.st.Load(j.Request("/"))
			if err == nil {
				err = fmt.Errorf("served session %s", s.ID)
			}
			concurrent <- err
		}()
		select {
		case err := <-concurrent:
			if !errors.Is(err, session.ErrNoSession) {
				t.Errorf("a Load racing the insertion of a revoked session = %v, want ErrNoSession", err)
			}
		case <-time.After(eventWait):
			t.Fatal("the racing Load did not return")
		}
	})
	a.load(t, &j) // began before the revocation: it may return what it read
	if before.Load() || after.Load() {
		t.Fatal("the Load did not try to keep the session it read")
	}
	a.cmds.take("get")
	if _, err := a.st.Load(j.Request("/")); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("Load after the revocation = %v, want ErrNoSession", err)
	}
	if n := a.cmds.take("get"); n != 1 {
		t.Errorf("Load after the revocation sent %d GETs, want 1", n)
	}
}

// TestRedisLocalCacheOffStillAnnounces: with local_cache: 0 every Load
// reads Redis and nothing subscribes, but changes are still announced to
// replicas that do cache (like `gatehouse sessions revoke`, which never
// loads a session).
func TestRedisLocalCacheOffStillAnnounces(t *testing.T) {
	ctx := context.Background()
	addr := testpeers.Redis(t)
	off := newReplica(t, addr, time.Now, 0)
	var j sessiontest.Jar
	sessiontest.Save(t, off.st, &j, sessiontest.Sample(time.Now()))
	off.cmds.take("get")
	for range 3 {
		off.load(t, &j)
	}
	if n := off.cmds.take("get"); n != 3 {
		t.Errorf("3 Loads with local_cache 0 sent %d GETs, want 3", n)
	}
	subs, err := off.client.PubSubNumSub(ctx, "gatehouse:invalidate").Result()
	if err != nil || subs["gatehouse:invalidate"] != 0 {
		t.Errorf("subscribers with local_cache 0 = %v, %v; want none", subs, err)
	}
	if done := session.LocalCacheDone(off.st); done != nil {
		t.Error("a store without a local cache started a watcher")
	}

	cached := newReplica(t, addr, time.Now, time.Minute)
	id := cached.warm(t, &j).ID
	if n, err := off.st.RevokeUser(ctx, "corp", "248289761001"); err != nil || n != 1 {
		t.Fatalf("RevokeUser = %d, %v", n, err)
	}
	cached.waitInvalidated(t, id)
	if _, err := cached.st.Load(j.Request("/")); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("Load after a revocation from a store without a cache = %v, want ErrNoSession", err)
	}
}
