package session_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
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

// probeResults sets st's probe interval to ping and its give-up-for-silence
// to dead, and returns each probe's publish result. Results the test has not
// taken are dropped past the buffer rather than block the subscriber.
func probeResults(st *session.RedisStore, ping, dead time.Duration) <-chan error {
	probes := make(chan error, 1024)
	session.SetLocalCacheProbing(st, ping, dead, func(err error) {
		select {
		case probes <- err:
		default:
		}
	})
	return probes
}

// aclReplica is the setup of the tests of a Redis user denied a command: a
// session saved by an unrestricted replica, and a caching replica logged in
// as user name (allowed the invalidation channel and every command but for
// rules), logging into logs and probing fast so a test sees several
// subscriptions given up within its deadline.
func aclReplica(t *testing.T, name string, rules ...string) (r *replica, j *sessiontest.Jar, logs *logRecorder, probes <-chan error) {
	t.Helper()
	addr := testpeers.Redis(t)
	writer := newReplica(t, addr, time.Now, 0)
	j = new(sessiontest.Jar)
	sessiontest.Save(t, writer.st, j, sessiontest.Sample(time.Now()))
	logs = newLogRecorder()
	client := aclUserClient(t, addr, name, append([]string{"resetchannels", "&gatehouse:invalidate", "+@all"}, rules...)...)
	r = newReplicaOn(t, client, slog.New(logs), time.Now, time.Minute)
	return r, j, logs, probeResults(r.st, 20*time.Millisecond, 300*time.Millisecond)
}

// TestRedisLocalCacheProbeNotPublished: a Redis user that may SUBSCRIBE to
// gatehouse:invalidate but not PUBLISH there gets a confirmed subscription
// and yet would never hear an invalidation (nor could its own be heard).
// Its probes fail, so the cache never turns on and every Load reads Redis;
// the failure is logged at warn once, not once per probe or per
// resubscription, until the cache is healthy again.
func TestRedisLocalCacheProbeNotPublished(t *testing.T) {
	r, j, logs, probes := aclReplica(t, "no-publish", "-publish")

	const probeWarn = "session invalidation probe not published"
	const lostDebug = "session invalidation subscription failed"
	loads, failed := 0, 0
	deadline := time.After(eventWait)
	// Refused probes in at least three subscriptions (two given up for
	// silence, and the next); a Load after each probe.
	for failed < 3 || logs.count(slog.LevelDebug, lostDebug, "no probe came back") < 2 {
		r.load(t, j)
		loads++
		select {
		case err := <-probes:
			// A probe goes out only once the subscription is confirmed.
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
	if n := logs.count(slog.LevelWarn, probeWarn, "NOPERM"); n != 1 || subs < 2 {
		t.Errorf("%d refused probes over %d subscriptions logged %d warnings; want one in all", failed, subs, n)
	}
}

// TestRedisLocalCacheSubscribeRefused: the reverse ACL, PUBLISH allowed
// but SUBSCRIBE refused. Redis never confirms the subscription, so no probe
// goes out, the cache never turns on and every Load reads Redis; the
// refusal is logged at warn once, not on every retry.
func TestRedisLocalCacheSubscribeRefused(t *testing.T) {
	r, j, logs, probes := aclReplica(t, "no-subscribe", "-subscribe")

	loads := 0
	deadline := time.After(eventWait)
	for logs.count(slog.LevelDebug, "session invalidation subscription failed", "NOPERM") < 3 {
		r.load(t, j)
		loads++
		select {
		case <-logs.more:
		case <-deadline:
			t.Fatal("the refused subscription was not retried")
		}
	}
	r.load(t, j)
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
	probes := probeResults(a.st, 50*time.Millisecond, time.Second)
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
