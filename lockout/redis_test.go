package lockout

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
	"github.com/gatehouse-dev/gatehouse/session"
)

func redisClient(t *testing.T, addr string) redis.UniversalClient {
	t.Helper()
	c, err := session.NewRedisClient(config.Redis{URL: "redis://" + addr + "/0"})
	if err != nil {
		t.Fatalf("NewRedisClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newRedisLimiter(t *testing.T, c redis.UniversalClient, cfg config.Login, opts Options) *Limiter {
	t.Helper()
	l, err := NewRedis(c, cfg, opts)
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	return l
}

// newRedisHarness is a harness on c, emptied first: the cases of one
// server must not see each other's keys.
func newRedisHarness(t *testing.T, c redis.UniversalClient) *harness {
	t.Helper()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("FLUSHDB: %v", err)
	}
	h := &harness{t: t, clk: newClock()}
	h.new = func(cfg config.Login, opts Options) *Limiter { return newRedisLimiter(t, c, cfg, opts) }
	h.l = h.new(testCfg, Options{Now: h.clk.Now})
	return h
}

// redisReplicas are two replicas on one fresh redis-server: separate
// clients and limiters, one clock.
func redisReplicas(t *testing.T) (a, b *harness) {
	t.Helper()
	addr := testpeers.Redis(t)
	clk := newClock()
	a = &harness{t: t, clk: clk, l: newRedisLimiter(t, redisClient(t, addr), testCfg, Options{Now: clk.Now})}
	b = &harness{t: t, clk: clk, l: newRedisLimiter(t, redisClient(t, addr), testCfg, Options{Now: clk.Now})}
	return a, b
}

func TestRedisBehaviour(t *testing.T) {
	c := redisClient(t, testpeers.Redis(t))
	for _, tt := range behaviourCases {
		t.Run(tt.name, func(t *testing.T) { tt.run(newRedisHarness(t, c)) })
	}
}

func TestRedisInstancesShareCounts(t *testing.T) {
	a, b := redisReplicas(t)

	a.failN(3, "alice", ip1)
	b.failN(1, "alice", ip2)
	b.succeed("alice", ip2)
	a.failN(2, "alice", ip1)
	b.failN(2, "alice", ip2)
	a.wantAllowed("alice", ip1) // four since b's success
	v := b.fail("ALICE", ip2)
	if v.Allowed || v.Reason != ReasonUser {
		t.Fatalf("fifth failure since the success: %+v, want locked by user", v)
	}
	a.wantLocked("alice", ip1, ReasonUser, v.Until)
	b.wantLocked("alice", ip1, ReasonUser, v.Until)

	// An address no attempt above came from: its 20 failures, made
	// through both replicas, lock it for both.
	ip3 := netip.MustParseAddr("192.0.2.33")
	for i := range 4 * testCfg.MaxFailures {
		if i%2 == 0 {
			a.fail(string(rune('a'+i)), ip3)
		} else {
			b.fail(string(rune('a'+i)), ip3)
		}
	}
	a.wantLocked("zed", ip3, ReasonIP, v.Until)
	b.wantLocked("zed", ip3, ReasonIP, v.Until)

	a.clk.Advance(testCfg.Window) // the replicas share one clock
	// The failures have left the window; the locks hold.
	a.wantLocked("alice", ip1, ReasonUser, v.Until)
	b.wantLocked("zed", ip3, ReasonIP, v.Until)

	a.clk.Advance(testCfg.Lockout - testCfg.Window)
	a.wantAllowed("alice", ip1)
	b.wantAllowed("zed", ip3)
}

func TestRedisKeysHideIdentities(t *testing.T) {
	c := redisClient(t, testpeers.Redis(t))
	ctx := context.Background()
	clk := newClock()
	h := &harness{t: t, clk: clk, l: newRedisLimiter(t, c, testCfg, Options{Now: clk.Now})}
	h.failN(4, "alice@example.com", ip1)
	h.failN(5, "bob", ip1)
	h.mustBegin("carol", ip1) // in flight

	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	// Failures: alice, ip1; locked: bob; reservations: carol, ip1.
	if len(keys) != 5 {
		t.Errorf("keys = %q, want 5", keys)
	}
	locks := 0
	for _, k := range keys {
		for _, secret := range []string{"alice", "example", "bob", "carol", "203.0.113", "cb007107"} {
			if strings.Contains(k, secret) {
				t.Errorf("key %q contains %q", k, secret)
			}
		}
		if !strings.HasPrefix(k, redisKeyPrefix) {
			t.Errorf("key %q lacks the prefix %q", k, redisKeyPrefix)
		}
		ttl, err := c.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		// Counters and reservations live as long as the window, a lock
		// as long as the lockout (TTLs run on Redis's clock, not the test
		// clock: little real time has passed).
		lo, hi := time.Duration(0), testCfg.Window+redisSlack
		if strings.HasSuffix(k, ":until") {
			locks++
			lo, hi = testCfg.Lockout, testCfg.Lockout+redisSlack
		}
		if ttl <= lo || ttl > hi {
			t.Errorf("key %q has TTL %v, want in (%v, %v]", k, ttl, lo, hi)
		}
	}

	if locks != 1 {
		t.Errorf("keys = %q, want one lock (bob's)", keys)
	}

	// With a HashKey the same identities get other names.
	keyed := &harness{t: t, clk: clk, l: newRedisLimiter(t, c, testCfg, Options{Now: clk.Now, HashKey: []byte("k")})}
	keyed.wantAllowed("bob", ip1)
}

// TestRedisDownFailsClosed: with Redis down, Begin refuses (never an
// allowing Verdict with its error) and settling an attempt reports
// ErrUnavailable; when Redis is back, counting works again.
func TestRedisDownFailsClosed(t *testing.T) {
	srv := testpeers.StartRedis(t)
	c := redisClient(t, srv.Addr)
	clk := newClock()
	l := newRedisLimiter(t, c, testCfg, Options{Now: clk.Now})
	h := &harness{t: t, clk: clk, l: l}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Attempts admitted while Redis was up, settled after it went down.
	failing, succeeding, cancelling := h.mustBegin("alice", ip1), h.mustBegin("bob", ip1), h.mustBegin("carol", ip1)

	srv.Stop()
	calls := []struct {
		name string
		call func() error
	}{
		{"Begin", func() error {
			a, v, err := l.Begin(ctx, "alice", ip1)
			if err != nil && (v.Allowed || a != nil) {
				t.Errorf("Begin returned an error with %v, %+v", a, v)
			}
			return err
		}},
		{"Begin without an address", func() error { _, _, err := l.Begin(ctx, "alice", netip.Addr{}); return err }},
		{"Attempt.Fail", func() error { _, err := failing.Fail(ctx); return err }},
		{"Attempt.Succeed", func() error { return succeeding.Succeed(ctx) }},
		{"Attempt.Cancel", func() error { return cancelling.Cancel(ctx) }},
	}
	for _, tt := range calls {
		if err := tt.call(); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s with Redis down: err = %v, want ErrUnavailable", tt.name, err)
		}
	}

	srv.Start() // empty again: no persistence
	h.failN(5, "alice", ip1)
	h.wantRefused("alice", ip1, ReasonUser)
}
