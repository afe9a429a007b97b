package local

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// StepStore shares each user's last accepted TOTP time step between
// gatehouse replicas, so a code used at one is refused at all of them
// (RFC 6238 §5.2: "MUST NOT accept the second attempt of the same OTP").
// Claim stores step for user for ttl when it is newer than the stored one
// and reports whether it was; an error leaves the answer unknown, and the
// login fails closed.
type StepStore interface {
	Claim(ctx context.Context, user string, step int64, ttl time.Duration) (bool, error)
}

// ShareUsedCodes makes the provider check every accepted code against s as
// well as its own memory. Call it before the provider serves.
func (p *Provider) ShareUsedCodes(s StepStore) { p.steps = s }

// RedisSteps is a StepStore in Redis, one key per user. Keys are a keyed
// hash of the user name, so a dump of Redis does not list the accounts.
type RedisSteps struct {
	client redis.UniversalClient
	key    []byte
}

// NewRedisSteps returns a StepStore on client; hashKey keys the key names.
func NewRedisSteps(client redis.UniversalClient, hashKey []byte) *RedisSteps {
	return &RedisSteps{client: client, key: hashKey}
}

// claimStep stores ARGV[1] unless the key holds a step at least as new, in
// one round trip and atomically, so two replicas cannot both accept a code.
var claimStep = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`)

// Claim implements StepStore.
func (r *RedisSteps) Claim(ctx context.Context, user string, step int64, ttl time.Duration) (bool, error) {
	mac := hmac.New(sha256.New, r.key)
	mac.Write([]byte(user))
	k := "gatehouse:totp-step:" + hex.EncodeToString(mac.Sum(nil)[:16])
	n, err := claimStep.Run(ctx, r.client, []string{k}, step, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("local: totp: shared used codes: %w", err)
	}
	return n == 1, nil
}
