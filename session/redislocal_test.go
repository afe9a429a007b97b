package session_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
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
	r := &replica{cmds: &cmdCounter{n: map[string]int{}}, healthy: make(chan bool, 64), inval: make(chan string, 1024)}
	r.client = redisClient(t, addr)
	r.client.AddHook(r.cmds)
	cfg := testConfig()
	cfg.Store = "redis"
	cfg.Redis.LocalCache = &localCache
	for _, f := range cfgs {
		f(&cfg)
	}
	st, err := session.NewRedisStore(r.client, cfg, session.Options{Now: now})
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
