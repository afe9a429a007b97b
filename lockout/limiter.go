package lockout

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/config"
)

// Options are the optional parts of a Limiter.
type Options struct {
	// Now is the clock; time.Now when nil. Every window and lock is judged
	// by this clock, in both backends (Redis TTLs only collect garbage).
	Now func() time.Time
	// Logger receives lock and eviction events (never usernames or
	// addresses, only key hashes); discarded when nil.
	Logger *slog.Logger
	// IPMaxFailures is the per-client-IP threshold within the window;
	// 0 means 4 × config.Login.MaxFailures. Size it for the largest office
	// that logs in through one NAT address.
	IPMaxFailures int
	// MaxEntries caps the memory backend's table (default DefaultMaxEntries);
	// ignored by Redis, whose keys all carry TTLs.
	MaxEntries int
	// HashKey, when set, makes key names HMAC-SHA-256 under this secret
	// instead of plain SHA-256, so that a Redis dump cannot be reversed by
	// hashing candidate usernames or the IPv4 space. Every replica must use
	// the same key; changing it resets all counters.
	HashKey []byte
}

// Limiter counts failed logins and locks users and client addresses out.
// It is safe for concurrent use.
type Limiter struct {
	store   store
	now     func() time.Time
	log     *slog.Logger
	window  time.Duration
	lockout time.Duration
	userMax int
	ipMax   int
	hashKey []byte
	backend string
}

// NewMemory returns a Limiter whose counters live in this process: right for
// a single replica. Its table holds at most Options.MaxEntries keys;
// expired entries go first, then the least recently failed unlocked ones,
// and locks only when the table holds nothing but locks (logged as a
// warning), so a spray of random usernames costs bounded memory.
func NewMemory(cfg config.Login, opts Options) (*Limiter, error) {
	l, err := newLimiter(cfg, opts, "memory")
	if err != nil {
		return nil, err
	}
	n := opts.MaxEntries
	switch {
	case n < 0:
		return nil, fmt.Errorf("lockout: max entries %d is negative", n)
	case n == 0:
		n = DefaultMaxEntries
	}
	l.store = newMemory(n, l.warnEvict)
	return l, nil
}

// NewRedis returns a Limiter whose counters live in Redis, shared by every
// Limiter on the same Redis (all replicas). Each update is one Lua script on
// one key's hash slot, so it is atomic and cluster-safe. Windows and locks
// are judged by the Limiter's clock from timestamps stored in the values;
// replicas' clocks should agree (NTP) to within a minute, the slack added to
// every TTL. Redis errors wrap ErrUnavailable.
func NewRedis(client redis.UniversalClient, cfg config.Login, opts Options) (*Limiter, error) {
	if client == nil {
		return nil, errors.New("lockout: nil redis client")
	}
	l, err := newLimiter(cfg, opts, "redis")
	if err != nil {
		return nil, err
	}
	l.store = &redisStore{client: client}
	return l, nil
}

func newLimiter(cfg config.Login, opts Options, backend string) (*Limiter, error) {
	if cfg.MaxFailures == 0 {
		cfg.MaxFailures = config.DefaultMaxFailures
	}
	if cfg.Window == 0 {
		cfg.Window = config.DefaultLoginWindow
	}
	if cfg.Lockout == 0 {
		cfg.Lockout = config.DefaultLockout
	}
	ipMax := opts.IPMaxFailures
	if ipMax == 0 {
		ipMax = 4 * cfg.MaxFailures
	}
	switch {
	case cfg.MaxFailures < 0:
		return nil, fmt.Errorf("lockout: max failures %d is negative", cfg.MaxFailures)
	case cfg.Window < 0:
		return nil, fmt.Errorf("lockout: window %s is negative", cfg.Window)
	case cfg.Lockout < 0:
		return nil, fmt.Errorf("lockout: lockout %s is negative", cfg.Lockout)
	case ipMax < 0:
		return nil, fmt.Errorf("lockout: ip max failures %d is negative", ipMax)
	}
	l := &Limiter{
		now:     opts.Now,
		log:     opts.Logger,
		window:  cfg.Window,
		lockout: cfg.Lockout,
		userMax: cfg.MaxFailures,
		ipMax:   ipMax,
		hashKey: append([]byte(nil), opts.HashKey...),
		backend: backend,
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	return l, nil
}

func (l *Limiter) rule(max int) rule {
	return rule{max: max, window: l.window, lockout: l.lockout}
}

// warnEvict is the memory backend's report that its table was full and live
// entries had to go: counters, and locks (which lifts them early).
func (l *Limiter) warnEvict(counters, locks int) {
	l.log.Warn("lockout: table full, evicted live entries", "counters", counters, "locks", locks)
}
