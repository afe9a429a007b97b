package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

const keyLock = "gatehouse:l:"

// Lock takes a short exclusive lock on a session across every replica that
// shares this Redis, so only one of them refreshes its tokens. It returns
// ok=false when another holder has it. unlock releases the lock only if it is
// still ours (a compare-and-delete), so an expired lock taken over by another
// replica is never released by us.
func (s *RedisStore) Lock(ctx context.Context, sess *Session, ttl time.Duration) (unlock func(), ok bool, err error) {
	if sess == nil || sess.ID == "" {
		return nil, false, errors.New("session: lock: session has no id")
	}
	key := keyLock + hashHex(sess.ID)
	token := randomString(16)
	ok, err = s.client.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return nil, false, fmt.Errorf("%w: lock: %w", ErrUnavailable, err)
	}
	if !ok {
		return nil, false, nil
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = unlockScript.Run(ctx, s.client, []string{key}, token).Err()
	}, true, nil
}

var unlockScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)
