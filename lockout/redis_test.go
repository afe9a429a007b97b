package lockout

import (
	"context"
	"errors"
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
	if err := b.l.Succeed(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	a.failN(2, "alice", ip1)
	b.failN(2, "alice", ip2)
	a.wantAllowed("alice", ip1) // four since b's success
	b.fail("ALICE", ip2)
	a.wantLocked("alice", ip1, ReasonUser)
	b.wantLocked("alice", ip1, ReasonUser)

	for i := range 20 {
		if i%2 == 0 {
			a.fail(string(rune('a'+i)), ip2)
		} else {
			b.fail(string(rune('a'+i)), ip2)
		}
	}
	a.wantLocked("zed", ip2, ReasonIP)
	b.wantLocked("zed", ip2, ReasonIP)

	a.clk.Advance(testCfg.Lockout) // the replicas share one clock
	a.wantAllowed("alice", ip1)
	b.wantAllowed("zed", ip2)
}

func TestRedisKeysHideIdentities(t *testing.T) {
	c := redisClient(t, testpeers.Redis(t))
	ctx := context.Background()
	clk := newClock()
	h := &harness{t: t, clk: clk, l: newRedisLimiter(t, c, testCfg, Options{Now: clk.Now})}
	h.failN(4, "alice@example.com", ip1)
	h.failN(5, "bob", ip1)
	if _, err := h.l.FailSecondFactor(ctx, "carol", ip1); err != nil {
		t.Fatal(err)
	}

	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	// Counting: alice, ip1, carol's second factor; locked: bob.
	if len(keys) != 4 {
		t.Errorf("keys = %q, want 4", keys)
	}
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
		if limit := max(testCfg.Window, testCfg.Lockout) + redisSlack; ttl <= 0 || ttl > limit {
			t.Errorf("key %q has TTL %v, want in (0, %v]", k, ttl, limit)
		}
	}

	// With a HashKey the same identities get other names.
	keyed := newRedisLimiter(t, c, testCfg, Options{Now: clk.Now, HashKey: []byte("k")})
	if v, err := keyed.Check(ctx, "bob", ip1); err != nil || !v.Allowed {
		t.Errorf("Check(bob) under another HashKey = %+v, %v; want allowed", v, err)
	}
}

func TestRedisDownFailsClosed(t *testing.T) {
	srv := testpeers.StartRedis(t)
	c := redisClient(t, srv.Addr)
	clk := newClock()
	l := newRedisLimiter(t, c, testCfg, Options{Now: clk.Now})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if v, err := l.Check(ctx, "alice", ip1); err != nil || !v.Allowed {
		t.Fatalf("Check with Redis up = %+v, %v", v, err)
	}

	srv.Stop()
	calls := []struct {
		name string
		call func() error
	}{
		{"Check", func() error {
			v, err := l.Check(ctx, "alice", ip1)
			if err != nil && v.Allowed {
				t.Error("Check returned an error with an allowing verdict")
			}
			return err
		}},
		{"Fail", func() error { _, err := l.Fail(ctx, "alice", ip1); return err }},
		{"FailSecondFactor", func() error { _, err := l.FailSecondFactor(ctx, "alice", ip1); return err }},
		{"Succeed", func() error { return l.Succeed(ctx, "alice") }},
		{"SucceedSecondFactor", func() error { return l.SucceedSecondFactor(ctx, "alice") }},
	}
	for _, tt := range calls {
		if err := tt.call(); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s with Redis down: err = %v, want ErrUnavailable", tt.name, err)
		}
	}

	srv.Start() // empty again: no persistence
	h := &harness{t: t, clk: clk, l: l}
	h.failN(5, "alice", ip1)
	h.wantLocked("alice", ip1, ReasonUser)
}
