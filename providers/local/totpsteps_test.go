package local

import (
	"context"
	"errors"
	"testing"

	"github.com/pquerna/otp/totp"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
	"github.com/gatehouse-dev/gatehouse/providers"
)

// Two replicas sharing a real redis-server: a code accepted at one is refused
// at the other, within its window (SECURITY.md A105 across replicas), and a
// newer code is still accepted. With Redis gone, a login with a code fails
// closed as unavailable rather than skipping the check.
func TestTOTPStepsSharedBetweenReplicas(t *testing.T) {
	srv := testpeers.StartRedis(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	steps := NewRedisSteps(client, []byte("test key"))
	a, _, _ := newTestProvider(t, TOTPOptional)
	b, cb, _ := newTestProvider(t, TOTPOptional)
	a.ShareUsedCodes(steps)
	b.ShareUsedCodes(steps)
	ctx := context.Background()

	if _, err := a.Authenticate(ctx, "carol", "correct horse", "287082"); err != nil {
		t.Fatalf("replica a: %v", err)
	}
	if _, err := b.Authenticate(ctx, "carol", "correct horse", "287082"); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Fatalf("the same code at replica b: err = %v, want refused", err)
	}
	cb.set(95) // step 3: a newer code
	if _, err := b.Authenticate(ctx, "carol", "correct horse", mustCode(t, cb)); err != nil {
		t.Fatalf("a newer code at replica b: %v", err)
	}

	srv.Stop()
	cb.set(125)
	if _, err := b.Authenticate(ctx, "carol", "correct horse", mustCode(t, cb)); !errors.Is(err, providers.ErrUnavailable) {
		t.Fatalf("Redis down: err = %v, want ErrUnavailable", err)
	}
}

func mustCode(t *testing.T, c *clock) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(rfcSecret, c.now(), totpOpts)
	if err != nil {
		t.Fatal(err)
	}
	return code
}
