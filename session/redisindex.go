package session

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/config"
)

// SessionInfo is what the per-user index knows about one session: no
// identity, token or ticket, only when it began and ends.
type SessionInfo struct {
	// Handle names the session in Redis (the hex SHA-256 of its id). It is
	// not a credential: it cannot load or forge the session.
	Handle  string
	Created time.Time
	Expires time.Time
}

// RevokeUser deletes every session of the user (provider, subject) and its
// index, returning how many sessions were deleted, and announces the deleted
// keys so every replica drops its locally cached copy. A session being saved
// concurrently may survive; call again after a login race if that matters.
// Redis errors wrap ErrUnavailable.
func (s *RedisStore) RevokeUser(ctx context.Context, provider, subject string) (int, error) {
	uk := userKey(provider, subject)
	members, err := s.client.SMembers(ctx, uk).Result()
	if err != nil {
		return 0, unavailable("revoke", err)
	}
	p := s.client.Pipeline()
	dels := make([]*redis.IntCmd, 0, len(members))
	sessions := make([]string, 0, len(members))
	for _, sk := range members {
		h, ok := strings.CutPrefix(sk, keySession)
		if !ok {
			continue
		}
		dels = append(dels, p.Del(ctx, sk)) // one key per DEL: cluster slots differ
		p.Del(ctx, keyMeta+h)
		sessions = append(sessions, sk)
	}
	p.Del(ctx, uk)
	_, err = p.Exec(ctx)
	s.announce(ctx, err, sessions...)
	if err != nil {
		return 0, unavailable("revoke", err)
	}
	n := 0
	for _, d := range dels {
		n += int(d.Val())
	}
	return n, nil
}

// RevokeEmail deletes every session whose identity carried the verified
// email (case-insensitive), from any provider. Errors as RevokeUser.
func (s *RedisStore) RevokeEmail(ctx context.Context, email string) (int, error) {
	return s.RevokeUser(ctx, emailIndex, strings.ToLower(email))
}

// ListEmail is ListUser for the by-email index.
func (s *RedisStore) ListEmail(ctx context.Context, email string) ([]SessionInfo, error) {
	return s.ListUser(ctx, emailIndex, strings.ToLower(email))
}

// ListUser returns the live sessions of the user (provider, subject), oldest
// first, from the plaintext metadata kept beside each encrypted session.
// Index entries whose session has gone (expired, cleared) are removed on
// the way. Redis
// errors wrap ErrUnavailable.
func (s *RedisStore) ListUser(ctx context.Context, provider, subject string) ([]SessionInfo, error) {
	uk := userKey(provider, subject)
	members, err := s.client.SMembers(ctx, uk).Result()
	if err != nil {
		return nil, unavailable("list", err)
	}
	p := s.client.Pipeline()
	type lookup struct {
		meta   *redis.MapStringStringCmd
		exists *redis.IntCmd
	}
	metas := make(map[string]lookup, len(members))
	for _, sk := range members {
		if h, ok := strings.CutPrefix(sk, keySession); ok {
			metas[sk] = lookup{p.HGetAll(ctx, keyMeta+h), p.Exists(ctx, sk)}
		}
	}
	if len(metas) > 0 {
		if _, err := p.Exec(ctx); err != nil {
			return nil, unavailable("list", err)
		}
	}
	now := s.now()
	var out []SessionInfo
	var stale []any
	for _, sk := range members {
		l, ok := metas[sk]
		var info SessionInfo
		if ok && l.exists.Val() == 1 {
			info, ok = parseMeta(strings.TrimPrefix(sk, keySession), l.meta.Val())
		} else {
			ok = false
		}
		if !ok || !now.Before(info.Expires) {
			stale = append(stale, sk)
			continue
		}
		out = append(out, info)
	}
	if len(stale) > 0 {
		if err := s.client.SRem(ctx, uk, stale...).Err(); err != nil {
			s.log.Debug("redis index cleanup failed", "err", err)
		}
	}
	slices.SortFunc(out, func(a, b SessionInfo) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Handle, b.Handle)
	})
	return out, nil
}

func parseMeta(handle string, m map[string]string) (SessionInfo, bool) {
	c, err1 := strconv.ParseInt(m["c"], 10, 64)
	x, err2 := strconv.ParseInt(m["x"], 10, 64)
	if err1 != nil || err2 != nil {
		return SessionInfo{}, false
	}
	return SessionInfo{Handle: handle, Created: time.Unix(c, 0).UTC(), Expires: time.Unix(x, 0).UTC()}, true
}

// Ping reports whether Redis answers; for readiness checks. Errors wrap
// ErrUnavailable.
func (s *RedisStore) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// Defaults for NewRedisClient where the URL does not set them: a session
// lookup is on every request's path, so an unreachable Redis must fail fast
// (503) rather than hold requests for go-redis's default of 4 commands × 5
// dials. One retry still covers a pooled connection that died in a restart.
const (
	redisDialTimeout   = 2 * time.Second
	redisIOTimeout     = time.Second
	redisMaxRetries    = 1
	redisDialerRetries = 1
)

// NewRedisClient builds a client for cfg: a single server from url
// (redis:// or rediss://, user/password/db in the URL or overridden by the
// username, password and db keys), or from addrs: Sentinel when master_name is
// set, Cluster for several addrs, a single server for one. password_file must
// already have been read into password by the config loader. It does not
// dial; errors never include the password.
func NewRedisClient(cfg config.Redis) (redis.UniversalClient, error) {
	if cfg.Password == "" && cfg.PasswordFile != "" {
		return nil, errors.New("session: redis password_file must be read into password by the config loader")
	}
	switch {
	case cfg.URL != "" && len(cfg.Addrs) > 0:
		return nil, errors.New("session: redis: set url or addrs, not both")
	case cfg.URL != "":
		o, err := redis.ParseURL(cfg.URL)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // url.Error repeats the URL, password included
			}
			return nil, fmt.Errorf("session: redis url: %w", err)
		}
		if cfg.Username != "" {
			o.Username = cfg.Username
		}
		if cfg.Password != "" {
			o.Password = cfg.Password
		}
		if cfg.DB != 0 {
			o.DB = cfg.DB
		}
		o.DialTimeout = orDefault(o.DialTimeout, redisDialTimeout)
		o.ReadTimeout = orDefault(o.ReadTimeout, redisIOTimeout)
		o.WriteTimeout = orDefault(o.WriteTimeout, redisIOTimeout)
		if o.MaxRetries == 0 {
			o.MaxRetries = redisMaxRetries
		}
		if o.DialerRetries == 0 {
			o.DialerRetries = redisDialerRetries
		}
		return redis.NewClient(o), nil
	case len(cfg.Addrs) > 0:
		if len(cfg.Addrs) > 1 && cfg.MasterName == "" && cfg.DB != 0 {
			return nil, errors.New("session: redis cluster supports db 0 only")
		}
		return redis.NewUniversalClient(&redis.UniversalOptions{
			Addrs:         cfg.Addrs,
			MasterName:    cfg.MasterName,
			Username:      cfg.Username,
			Password:      cfg.Password,
			DB:            cfg.DB,
			DialTimeout:   redisDialTimeout,
			ReadTimeout:   redisIOTimeout,
			WriteTimeout:  redisIOTimeout,
			MaxRetries:    redisMaxRetries,
			DialerRetries: redisDialerRetries,
		}), nil
	default:
		return nil, errors.New("session: redis: url or addrs is required")
	}
}

// orDefault returns v, or def when v is zero.
func orDefault(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}
