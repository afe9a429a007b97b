package session_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
	"github.com/gatehouse-dev/gatehouse/session"
	"github.com/gatehouse-dev/gatehouse/session/sessiontest"
)

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
