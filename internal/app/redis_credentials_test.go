package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
)

// A Redis that refuses gatehouse's credentials stops start-up with an error
// that names the keys to check and not the password; the right password,
// and an unreachable Redis (an outage gatehouse rides out), start.
func TestBuildChecksRedisCredentials(t *testing.T) {
	srv := testpeers.StartRedis(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { admin.Close() })
	if err := admin.ConfigSet(context.Background(), "requirepass", "right-password").Err(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse"), 10)
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "users.yaml")
	if err := os.WriteFile(users, []byte("users:\n  - {username: u, password: \""+string(hash)+"\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	build := func(url string) error {
		raw := fmt.Sprintf(`
session:
  secrets: ["0123456789abcdef0123456789abcdef"]
  store: redis
  redis: {url: %q}
providers: [{id: local, type: local, users_file: %q}]
rules: [{name: all, prefix: /, allow: authenticated}]
`, url, users)
		cfg, err := config.Parse([]byte(raw), "test.yaml")
		if err != nil {
			t.Fatalf("config: %v", err)
		}
		a, err := Build(context.Background(), cfg, slog.New(slog.DiscardHandler), Options{})
		if err == nil {
			a.Close()
		}
		return err
	}
	if err := build("redis://:wrong-password@" + srv.Addr + "/0"); err == nil ||
		!strings.Contains(err.Error(), "session.redis") || strings.Contains(err.Error(), "wrong-password") {
		t.Fatalf("wrong password: %v, want an error naming session.redis, not the password", err)
	}
	if err := build("redis://:right-password@" + srv.Addr + "/0"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	free := fmt.Sprintf("127.0.0.1:%d", testpeers.FreePort(t))
	if err := build("redis://:any@" + free + "/0"); err != nil {
		t.Fatalf("unreachable Redis: %v, want start-up to go on (503 until it answers)", err)
	}
}

// go-redis's own messages reach gatehouse's log as structured warnings.
func TestRedisLoggerIsStructured(t *testing.T) {
	var buf strings.Builder
	l := redisLogger{slog.New(slog.NewJSONHandler(&buf, nil))}
	l.Printf(context.Background(), "pool.go:%d: redis: connection pool: %s", 770, "failed to dial")
	if got := buf.String(); !strings.Contains(got, `"level":"WARN","msg":"redis client","message":"pool.go:770: redis: connection pool: failed to dial"`) {
		t.Fatalf("log line: %s", got)
	}
}
