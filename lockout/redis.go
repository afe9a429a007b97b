package lockout

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisKeyPrefix starts every key the Redis backend writes.
const redisKeyPrefix = "gatehouse:lock:"

// redisSlack is added to every TTL so that a replica whose clock runs a
// little behind still finds a lock that, by its clock, has not lifted yet.
// TTLs only collect garbage: windows and locks are judged from timestamps.
const redisSlack = time.Minute

// Each key k has three Redis keys: its sorted set of failures and its
// sorted set of reservations (score: unix ms; member: a nonce, hex), and the
// end of its lock (unix ms). They share a hash tag, so a script that
// touches all three runs on one cluster slot.

// reserveScript admits one attempt atomically. KEYS: failures, lock,
// reservations. ARGV: now, the window's cutoff (entries at or before it no
// longer count), the threshold, the window in ms, the reservations' TTL in
// ms, the reservation's member. It returns {lock end, 0} when locked,
// {when the oldest entry leaves the window, 0} when failures and
// reservations already reach the threshold, else {0, 1}.
var reserveScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local locked = tonumber(redis.call('GET', KEYS[2]) or '0')
if locked > now then
  return {locked, 0}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[3]) then
  local oldest = now
  for _, k in ipairs({KEYS[1], KEYS[3]}) do
    local first = redis.call('ZRANGE', k, 0, 0, 'WITHSCORES')
    if first[2] and tonumber(first[2]) < oldest then
      oldest = tonumber(first[2])
    end
  end
  return {oldest + tonumber(ARGV[4]), 0}
end
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[6])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return {0, 1}
`)

// failScript records one failure of one key atomically, turning the
// reservation of the same member into it if there is one. KEYS: failures,
// lock, reservations. ARGV: now, the window's cutoff, the threshold, the
// lock's end, its TTL in ms, the failures' TTL in ms, the member. It
// returns {lock end or 0, 1 if this failure placed the lock else 0}.
var failScript = redis.NewScript(`
local now = tonumber(ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[7])
local locked = tonumber(redis.call('GET', KEYS[2]) or '0')
if locked > now then
  return {locked, 0}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[7])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1], KEYS[3])
  redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[5])
  return {tonumber(ARGV[4]), 1}
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {0, 0}
`)

// redisStore keeps counters in Redis. Each key's two Redis keys share a
// hash tag, so the script runs on one cluster slot.
type redisStore struct {
	client redis.UniversalClient
}

// redisKeys names k's failure set, lock and reservation set: no username
// or address, only the hash.
func redisKeys(k key) (fails, lock, pending string) {
	base := redisKeyPrefix + "{" + string(k.ns) + ":" + hex.EncodeToString(k.hash[:]) + "}:"
	return base + "fails", base + "until", base + "pending"
}

func (s *redisStore) lockedUntil(ctx context.Context, keys []key, now time.Time) ([]time.Time, error) {
	cmds := make([]*redis.StringCmd, len(keys))
	// Pipelined GETs, not MGET: the keys live in different cluster slots.
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			_, lock, _ := redisKeys(k)
			cmds[i] = p.Get(ctx, lock)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable("check", err)
	}
	t := now.UnixMilli()
	out := make([]time.Time, len(keys))
	for i, c := range cmds {
		v, err := c.Int64()
		switch {
		case errors.Is(err, redis.Nil):
			continue
		case err != nil:
			return nil, unavailable("check", err)
		case v > t:
			out[i] = time.UnixMilli(v)
		}
	}
	return out, nil
}

func (s *redisStore) reserve(ctx context.Context, k key, r rule, id nonce, now time.Time) (time.Time, bool, error) {
	t := now.UnixMilli()
	fails, lock, pending := redisKeys(k)
	res, err := reserveScript.Run(ctx, s.client, []string{fails, lock, pending},
		t,
		t-r.window.Milliseconds(),
		r.max,
		r.window.Milliseconds(),
		(r.window + redisSlack).Milliseconds(),
		hex.EncodeToString(id[:]),
	).Int64Slice()
	if err != nil {
		return time.Time{}, false, unavailable("reserve", err)
	}
	if len(res) != 2 {
		return time.Time{}, false, unavailable("reserve", fmt.Errorf("script returned %d values", len(res)))
	}
	if res[1] == 1 {
		return time.Time{}, true, nil
	}
	return time.UnixMilli(res[0]), false, nil
}

func (s *redisStore) fail(ctx context.Context, k key, r rule, id nonce, now time.Time) (time.Time, bool, error) {
	t := now.UnixMilli()
	lockEnd := t + r.lockout.Milliseconds()
	fails, lock, pending := redisKeys(k)
	res, err := failScript.Run(ctx, s.client, []string{fails, lock, pending},
		t,
		t-r.window.Milliseconds(),
		r.max,
		lockEnd,
		(r.lockout + redisSlack).Milliseconds(),
		(r.window + redisSlack).Milliseconds(),
		hex.EncodeToString(id[:]),
	).Int64Slice()
	if err != nil {
		return time.Time{}, false, unavailable("fail", err)
	}
	if len(res) != 2 {
		return time.Time{}, false, unavailable("fail", fmt.Errorf("script returned %d values", len(res)))
	}
	if res[0] == 0 {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(res[0]), res[1] == 1, nil
}

func (s *redisStore) release(ctx context.Context, k key, id nonce) error {
	_, _, pending := redisKeys(k)
	if err := s.client.ZRem(ctx, pending, hex.EncodeToString(id[:])).Err(); err != nil {
		return unavailable("release", err)
	}
	return nil
}

func (s *redisStore) reset(ctx context.Context, k key) error {
	fails, _, _ := redisKeys(k)
	if err := s.client.Del(ctx, fails).Err(); err != nil {
		return unavailable("reset", err)
	}
	return nil
}

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: redis %s: %w", ErrUnavailable, op, err)
}
