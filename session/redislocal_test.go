package session_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
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

// logRecorder is a slog.Handler that keeps every record's level and
// message, and wakes a waiter on each.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
	more chan struct{}
}

func newLogRecorder() *logRecorder { return &logRecorder{more: make(chan struct{}, 1)} }

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	select {
	case h.more <- struct{}{}:
	default:
	}
	return nil
}

// count returns how many records at level have a message starting with
// msg and, when attr is not "", an attribute err containing attr.
func (h *logRecorder) count(level slog.Level, msg, attr string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.recs {
		if r.Level != level || !strings.HasPrefix(r.Message, msg) {
			continue
		}
		found := attr == ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" && strings.Contains(a.Value.String(), attr) {
				found = true
			}
			return !found
		})
		if found {
			n++
		}
	}
	return n
}

// aclUserClient creates the Redis user name with the ACL rules given (on
// top of a password and every key) and returns a client logged in as it.
func aclUserClient(t *testing.T, addr, name string, rules ...string) redis.UniversalClient {
	t.Helper()
	setACL(t, addr, name, append([]string{"on", ">pw-" + name, "~*"}, rules...)...)
	c, err := session.NewRedisClient(config.Redis{URL: "redis://" + name + ":pw-" + name + "@" + addr + "/0"})
	if err != nil {
		t.Fatalf("NewRedisClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// setACL applies ACL SETUSER name rules... as the default user.
func setACL(t *testing.T, addr, name string, rules ...string) {
	t.Helper()
	admin := redisClient(t, addr)
	args := []any{"acl", "setuser", name}
	for _, r := range rules {
		args = append(args, r)
	}
	if err := admin.Do(context.Background(), args...).Err(); err != nil {
		t.Fatalf("ACL SETUSER %s %v: %v", name, rules, err)
	}
}

// TestRedisLocalCacheProbeNotPublished: a Redis user that may SUBSCRIBE to
// gatehouse:invalidate but not PUBLISH there gets a confirmed subscription
// and yet would never hear an invalidation (nor could its own be heard).
// Its probes fail, so the cache never turns on and every Load reads Redis;
// the failure is logged at warn once per subscription, not once per probe.
func TestRedisLocalCacheProbeNotPublished(t *testing.T) {
	addr := testpeers.Redis(t)
	writer := newReplica(t, addr, time.Now, 0)
	var j sessiontest.Jar
	sessiontest.Save(t, writer.st, &j, sessiontest.Sample(time.Now()))

	logs := newLogRecorder()
	client := aclUserClient(t, addr, "no-publish", "resetchannels", "&gatehouse:invalidate", "+@all", "-publish")
	r := newReplicaOn(t, client, slog.New(logs), time.Now, time.Minute)
	probes := make(chan error, 1024)
	session.SetLocalCacheProbing(r.st, 20*time.Millisecond, 300*time.Millisecond, func(err error) {
		select {
		case probes <- err:
		default:
		}
	})

	const probeWarn = "session invalidation probe not published"
	const lostDebug = "session invalidation subscription failed"
	loads, failed := 0, 0
	deadline := time.After(eventWait)
	// At least three refused probes and one subscription given up for
	// silence; a Load after each probe.
	for failed < 3 || logs.count(slog.LevelDebug, lostDebug, "no probe came back") < 1 {
		r.load(t, &j)
		loads++
		select {
		case err := <-probes:
			// A probe goes out only once the subscription is confirmed,
			// which the PING health check took for healthy.
			if err == nil || !strings.Contains(err.Error(), "NOPERM") {
				t.Fatalf("probe by a user without PUBLISH = %v, want NOPERM", err)
			}
			failed++
		case <-logs.more:
		case <-deadline:
			t.Fatalf("after %d refused probes, no subscription was given up for silence", failed)
		}
		select {
		case h := <-r.healthy:
			t.Fatalf("the cache's health changed to %v for a user who cannot publish", h)
		default:
		}
	}
	if n := r.cmds.take("get"); n != loads {
		t.Errorf("%d Loads sent %d GETs; want one each", loads, n)
	}
	subs := logs.count(slog.LevelDebug, lostDebug, "") + 1 // those given up, and the current one
	if n := logs.count(slog.LevelWarn, probeWarn, "NOPERM"); n < 1 || n > subs || n >= failed {
		t.Errorf("%d refused probes over %d subscriptions logged %d warnings; want one per subscription", failed, subs, n)
	}
}

// TestRedisLocalCacheSubscribeRefused: the reverse ACL, PUBLISH allowed
// but SUBSCRIBE refused. Redis never confirms the subscription, so no probe
// goes out, the cache never turns on and every Load reads Redis; the
// refusal is logged at warn once, not on every retry.
func TestRedisLocalCacheSubscribeRefused(t *testing.T) {
	addr := testpeers.Redis(t)
	writer := newReplica(t, addr, time.Now, 0)
	var j sessiontest.Jar
	sessiontest.Save(t, writer.st, &j, sessiontest.Sample(time.Now()))

	logs := newLogRecorder()
	client := aclUserClient(t, addr, "no-subscribe", "resetchannels", "&gatehouse:invalidate", "+@all", "-subscribe")
	r := newReplicaOn(t, client, slog.New(logs), time.Now, time.Minute)
	probes := make(chan error, 1024)
	session.SetLocalCacheProbing(r.st, 20*time.Millisecond, 300*time.Millisecond, func(err error) {
		select {
		case probes <- err:
		default:
		}
	})

	loads := 0
	deadline := time.After(eventWait)
	for logs.count(slog.LevelDebug, "session invalidation subscription failed", "NOPERM") < 3 {
		r.load(t, &j)
		loads++
		select {
		case <-logs.more:
		case <-deadline:
			t.Fatal("the refused subscription was not retried")
		}
	}
	r.load(t, &j)
	loads++
	select {
	case h := <-r.healthy:
		t.Fatalf("the cache's health changed to %v for a user who cannot subscribe", h)
	case err := <-probes:
		t.Fatalf("a probe (%v) went out without a confirmed subscription", err)
	default:
	}
	if n := r.cmds.take("get"); n != loads {
		t.Errorf("%d Loads sent %d GETs; want one each", loads, n)
	}
	if n := logs.count(slog.LevelWarn, "session invalidation subscription refused", "NOPERM"); n != 1 {
		t.Errorf("3 refused subscriptions logged %d warnings, want 1", n)
	}
}

// TestRedisLocalCacheProbes: the cache turns on only when the replica's own
// probe comes back through the channel, and off again when its probes stop
// coming back although the subscription's connection is fine (here: PUBLISH
// taken away by an ACL change), and on again when they return. Probes from
// other replicas neither count as heard nor drop anything from the cache.
func TestRedisLocalCacheProbes(t *testing.T) {
	addr := testpeers.Redis(t)
	client := aclUserClient(t, addr, "gh", "resetchannels", "&gatehouse:invalidate", "+@all")
	a := newReplicaOn(t, client, nil, time.Now, time.Minute)
	probes := make(chan error, 1024)
	session.SetLocalCacheProbing(a.st, 50*time.Millisecond, time.Second, func(err error) {
		select {
		case probes <- err:
		default:
		}
	})
	var j sessiontest.Jar
	sessiontest.Save(t, a.st, &j, sessiontest.Sample(time.Now()))
	a.warm(t, &j)
	select {
	case err := <-probes:
		if err != nil {
			t.Fatalf("probe = %v", err)
		}
	case <-time.After(eventWait):
		t.Fatal("the cache turned on, but no probe was published")
	}

	// Another replica's probes, and a forged one, arrive before an
	// unrelated invalidation does (one connection keeps the order).
	b := newReplica(t, addr, time.Now, time.Minute)
	b.load(t, &j)
	b.waitHealthy(t, true) // b's probe came back, so it has reached a too
	raw := redisClient(t, addr)
	for _, p := range []string{"probe " + strings.Repeat("0f", 16), "probe gatehouse:s:not-a-hash", "probe "} {
		if err := raw.Publish(context.Background(), "gatehouse:invalidate", p).Err(); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256([]byte("another session"))
	other := "gatehouse:s:" + hex.EncodeToString(sum[:])
	if err := raw.Publish(context.Background(), "gatehouse:invalidate", other).Err(); err != nil {
		t.Fatal(err)
	}
	a.waitInvalidated(t, "another session")
	select {
	case k := <-a.inval:
		t.Errorf("a probe was taken for the key name %q", k)
	default:
	}
	a.load(t, &j)
	if n := a.cmds.take("get"); n != 0 {
		t.Errorf("after other replicas' probes a cached Load sent %d GETs, want 0", n)
	}

	setACL(t, addr, "gh", "-publish")
	a.waitHealthy(t, false)
	a.load(t, &j)
	if n := a.cmds.take("get"); n != 1 {
		t.Errorf("with probes refused, Load sent %d GETs, want 1", n)
	}
	setACL(t, addr, "gh", "+publish")
	a.waitHealthy(t, true)
}

// TestRedisLocalCacheOutage: when Redis goes away the subscription breaks,
// the cache is forgotten and switched off, so a session served from memory
// a moment ago now fails closed (ErrUnavailable, a 503 for the caller).
// When Redis is back the cache comes back by itself.
func TestRedisLocalCacheOutage(t *testing.T) {
	tests := []struct {
		name      string
		stop      func(*testpeers.RedisServer)
		keepsData bool
	}{
		{"killed", (*testpeers.RedisServer).Stop, false},
		{"shut down keeping data", (*testpeers.RedisServer).StopKeepingData, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testpeers.StartRedis(t)
			a := newReplica(t, srv.Addr, time.Now, time.Minute)
			var j sessiontest.Jar
			sessiontest.Save(t, a.st, &j, sessiontest.Sample(time.Now()))
			a.warm(t, &j)

			tt.stop(srv)
			a.waitHealthy(t, false)
			if s, err := a.st.Load(j.Request("/")); s != nil || !errors.Is(err, session.ErrUnavailable) {
				t.Fatalf("Load with Redis down after a cached hit = %v, %v; want ErrUnavailable", s, err)
			}

			srv.Start()
			a.waitHealthy(t, true)
			if !tt.keepsData {
				if _, err := a.st.Load(j.Request("/")); !errors.Is(err, session.ErrNoSession) {
					t.Fatalf("Load after a restart that lost the data = %v, want ErrNoSession", err)
				}
				j = sessiontest.Jar{}
				sessiontest.Save(t, a.st, &j, sessiontest.Sample(time.Now()))
			}
			a.load(t, &j) // from Redis, kept again
			a.cmds.take("get")
			a.load(t, &j)
			if n := a.cmds.take("get"); n != 0 {
				t.Errorf("after recovery a cached Load sent %d GETs, want 0", n)
			}
		})
	}
}

// TestRedisLocalCacheLifetimes (fake clock): an entry is not used past
// local_cache after it was read, nor past the session's ExpiresAt, and
// lifetimes (idle timeout, reissue) are still judged on every cached hit.
func TestRedisLocalCacheLifetimes(t *testing.T) {
	addr := testpeers.Redis(t)
	tests := []struct {
		name      string
		idle      time.Duration
		expiresIn time.Duration // 0: the default lifetime
		advance   time.Duration
		gets      int // GETs the Load after advance sends
		wantErr   error
		reissue   bool
	}{
		{"within local_cache", 0, 0, 59 * time.Second, 0, nil, false},
		{"past local_cache", 0, 0, time.Minute, 1, nil, false},
		{"past ExpiresAt", 0, 30 * time.Second, 30 * time.Second, 1, session.ErrExpired, false},
		{"idle clock due for a move", 20 * time.Second, 0, 3 * time.Second, 0, nil, true},
		{"idle too long", 20 * time.Second, 0, 20 * time.Second, 0, session.ErrExpired, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := sessiontest.NewClock(time.Now().UTC().Truncate(time.Second))
			a := newReplica(t, addr, clk.Now, time.Minute, func(c *config.Session) { c.IdleTimeout = tt.idle })
			var j sessiontest.Jar
			s := sessiontest.Sample(clk.Now())
			if tt.expiresIn > 0 {
				s.ExpiresAt = clk.Now().Add(tt.expiresIn)
			}
			sessiontest.Save(t, a.st, &j, s)
			a.warm(t, &j)

			clk.Advance(tt.advance)
			got, err := a.st.Load(j.Request("/"))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Load = %v, %v; want %v", got, err, tt.wantErr)
			}
			if err == nil && got.Reissue != tt.reissue {
				t.Errorf("Reissue = %v, want %v", got.Reissue, tt.reissue)
			}
			if n := a.cmds.take("get"); n != tt.gets {
				t.Errorf("Load sent %d GETs, want %d", n, tt.gets)
			}
		})
	}
}

// TestRedisLocalCacheClose: Close ends the subscription and the cache, and
// the store keeps working from Redis; a store whose client is closed under
// it (without Close) stops its watcher too.
func TestRedisLocalCacheClose(t *testing.T) {
	addr := testpeers.Redis(t)
	a := newReplica(t, addr, time.Now, time.Minute)
	var j sessiontest.Jar
	sessiontest.Save(t, a.st, &j, sessiontest.Sample(time.Now()))
	a.warm(t, &j)
	if err := a.st.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-session.LocalCacheDone(a.st):
	default:
		t.Fatal("Close returned before the watcher did")
	}
	a.waitHealthy(t, false)
	a.load(t, &j)
	a.load(t, &j)
	if n := a.cmds.take("get"); n != 2 {
		t.Errorf("2 Loads after Close sent %d GETs, want 2", n)
	}

	b := newReplica(t, addr, time.Now, time.Minute)
	b.warm(t, &j)
	b.client.Close()
	select {
	case <-session.LocalCacheDone(b.st):
	case <-time.After(eventWait):
		t.Fatal("the watcher outlived its client")
	}
	if _, err := b.st.Load(j.Request("/")); !errors.Is(err, session.ErrUnavailable) {
		t.Errorf("Load with a closed client = %v, want ErrUnavailable", err)
	}
}

// TestRedisLocalCacheConfig: session.redis.local_cache parses as a duration,
// defaults to 2s, may be 0, and is refused when negative or over a minute.
func TestRedisLocalCacheConfig(t *testing.T) {
	const base = "session:\n  store: redis\n  secrets: [\"0123456789abcdef0123456789abcdef\"]\n  redis:\n    url: redis://127.0.0.1:6379/0\n"
	const tail = "providers: [{id: l, type: local, users_file: u}]\n"
	tests := []struct {
		name    string
		line    string
		want    time.Duration
		problem string
	}{
		{"unset", "", 2 * time.Second, ""},
		{"off", "    local_cache: 0s\n", 0, ""},
		{"short", "    local_cache: 250ms\n", 250 * time.Millisecond, ""},
		{"max", "    local_cache: 1m\n", time.Minute, ""},
		{"negative", "    local_cache: -1s\n", 0, "session.redis.local_cache: must not be negative"},
		{"too long", "    local_cache: 2m\n", 0, "session.redis.local_cache: must be at most 1m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(base+tt.line+tail), "test.yaml")
			if tt.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("Parse = %v; want a problem containing %q", err, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Session.Redis.LocalCacheOrDefault(); got != tt.want {
				t.Errorf("local_cache = %v, want %v", got, tt.want)
			}
		})
	}
}
