// Package lockout limits password and one-time-code guessing on the local
// login form: per-user and per-client-IP failure counters with lockout, kept
// in memory (one process) or in Redis (shared by every replica), and a gate
// that bounds how many password hashes run at once.
//
// # Counting
//
// Failures are counted in a sliding window: a failure counts while it is
// younger than config.Login.Window (a failure exactly Window old no longer
// counts). When the failures inside the window of one key reach its
// threshold, that key is locked for config.Login.Lockout and its failures are
// forgotten, so when the lock lifts the key starts afresh. Failures recorded
// while a key is locked neither count nor extend the lock. Failures spread
// over more than Window never lock.
//
// There are three key namespaces, each keyed on a canonical identity:
//   - user: failed passwords for a username (threshold MaxFailures);
//   - second factor: failed one-time codes for a username (threshold
//     MaxFailures), reset only by SucceedSecondFactor;
//   - IP: every failure from one client address (threshold
//     Options.IPMaxFailures, default 4×MaxFailures), which catches password
//     spraying (one address, many usernames). IPv6 clients are grouped by
//     their /64, which one host usually controls whole.
//
// Key names are hashes (SHA-256, or HMAC-SHA-256 with Options.HashKey) of the
// namespace and identity: neither backend holds usernames or addresses in
// plain text, and the Redis key space shows none.
//
// # What the caller does
//
// Before checking a password, call Begin. If its Verdict is not Allowed,
// answer exactly as for a wrong password (same status and message), log
// Verdict.Reason and check nothing. Otherwise Begin has reserved the
// attempt: it counts toward the user's and the ip's thresholds until it is
// settled, so attempts that arrive together cannot all pass before any of
// them has failed. Settle it exactly once: Attempt.Fail after a wrong
// password (the reservation becomes a failure), Attempt.Succeed after a
// right one, Attempt.Cancel when no password was checked after all (the
// hashing gate refused, the client went away). Around a one-time code call
// FailSecondFactor or SucceedSecondFactor. The client IP must come from the
// socket peer or the trusted-proxy chain only, never from a header an
// untrusted client sets.
//
// A key admits an attempt only while its failures and unsettled
// reservations inside the window are fewer than its threshold, so however
// requests interleave — in one process or across replicas sharing Redis —
// no more wrong passwords are checked per key per window than the
// threshold, exactly as when attempts come one at a time (a right password
// still resets the user's count). Only failures place a lock: a
// reservation that ends in success or Cancel is simply dropped, so a burst
// that includes the right password behaves as the same attempts made one
// after another would. A reservation whose process dies unsettled keeps its
// place until it leaves the window, which errs toward refusing.
//
// Check, Fail and Succeed are the older, unreserved form: Check only reads
// locks, so attempts that pass Check together all get their guess. They
// remain for callers that serialise attempts themselves.
package lockout

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/config"
)

// ErrUnavailable wraps every error from the shared store (Redis). A Check
// that returns it has not established that the attempt may proceed: the
// caller must refuse the login (503), never let it through, so an outage
// cannot open the door to unlimited guessing.
var ErrUnavailable = errors.New("lockout: store unavailable")

// Reasons a Verdict denies an attempt. They are for logs only; the client
// must never see them.
const (
	ReasonUser         = "user locked"
	ReasonSecondFactor = "second factor locked"
	ReasonIP           = "ip locked"
)

// DefaultMaxEntries bounds the memory backend when Options.MaxEntries is 0.
const DefaultMaxEntries = 100_000

// Verdict is the answer of Check (and the state after Fail).
type Verdict struct {
	// Allowed reports whether the attempt may proceed.
	Allowed bool
	// Reason says which lock denied it (ReasonUser, ReasonSecondFactor or
	// ReasonIP; the first that applies, in that order). For logs only: a
	// locked account must look like a wrong password to the client.
	Reason string
	// Until is when every lock that denied the attempt has lifted; zero
	// when Allowed. For logs only, like Reason.
	Until time.Time
}

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

// store is a backend: counters and locks by hashed key, judged at now.
type store interface {
	// lockedUntil returns, for each key, the end of its lock if it is
	// locked at now, else the zero time.
	lockedUntil(ctx context.Context, keys []key, now time.Time) ([]time.Time, error)
	// reserve admits one attempt on k at now, under the name id, if k is
	// not locked and its failures plus reservations inside the window are
	// fewer than r.max; the check and the reservation are one atomic step.
	// When it refuses, until is the end of the lock, or when the oldest
	// failure or reservation leaves the window.
	reserve(ctx context.Context, k key, r rule, id nonce, now time.Time) (until time.Time, ok bool, err error)
	// fail records a failure of k at now, turning the reservation id into
	// it if there is one, and returns the end of k's lock if k is locked
	// afterwards (else the zero time), and whether this failure placed the
	// lock.
	fail(ctx context.Context, k key, r rule, id nonce, now time.Time) (until time.Time, locked bool, err error)
	// release drops the reservation id of k, if it is still there.
	release(ctx context.Context, k key, id nonce) error
	// reset forgets k's failures; a lock and reservations stay.
	reset(ctx context.Context, k key) error
}

// nonce names one reservation: random, so replicas never collide.
type nonce [12]byte

func newNonce() nonce {
	var n nonce
	_, _ = rand.Read(n[:]) // never fails (crypto/rand)
	return n
}

// rule is how one namespace counts.
type rule struct {
	max     int
	window  time.Duration
	lockout time.Duration
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

// Canonical is the form usernames are keyed on: surrounding white space
// trimmed, lower-cased. The Limiter applies it to every username itself;
// callers that can resolve aliases (an email address, another spelling) to
// one account must pass that account's username, so that every alias counts
// toward, and is blocked by, the same lock. Unknown usernames are counted
// too, under this form, so a lock does not reveal whether a user exists.
func Canonical(user string) string {
	return strings.ToLower(strings.TrimSpace(user))
}

// Check reports whether a login attempt by user from ip may proceed: it is
// denied while the user, the user's second factor or the ip is locked. It
// only reads: attempts that pass it together all proceed, so a login form
// should call Begin instead. An invalid ip (no known peer) is not limited
// by address. A store error wraps ErrUnavailable and the caller must
// refuse the attempt.
func (l *Limiter) Check(ctx context.Context, user string, ip netip.Addr) (Verdict, error) {
	now := l.now()
	keys := []key{l.userKey(nsUser, user), l.userKey(nsSecondFactor, user)}
	reasons := []string{ReasonUser, ReasonSecondFactor}
	if k, ok := l.ipKey(ip); ok {
		keys = append(keys, k)
		reasons = append(reasons, ReasonIP)
	}
	until, err := l.store.lockedUntil(ctx, keys, now)
	if err != nil {
		return Verdict{}, err
	}
	return verdict(until, reasons), nil
}

// Begin admits and reserves one login attempt by user from ip; see "What
// the caller does" above. It is refused while the user, the user's second
// factor or the ip is locked, and while the user's or the ip's failures and
// unsettled attempts inside the window already reach its threshold (the
// Verdict then names that key as locked, and Until is when its oldest entry
// leaves the window; in-flight attempts may free a place sooner). When the
// Verdict is Allowed the Attempt is non-nil and must be settled once. An
// invalid ip is not limited by address. A store error wraps ErrUnavailable:
// the caller must refuse the attempt, and nothing stays reserved that could
// be released.
func (l *Limiter) Begin(ctx context.Context, user string, ip netip.Addr) (*Attempt, Verdict, error) {
	// Locks first, in Check's order, so a locked key is reported as such
	// (and the second factor's lock, which reserve does not look at, counts).
	v, err := l.Check(ctx, user, ip)
	if err != nil || !v.Allowed {
		return nil, v, err
	}
	a := &Attempt{l: l, user: l.userKey(nsUser, user), id: newNonce()}
	a.ip, a.hasIP = l.ipKey(ip)
	now := l.now()
	until, ok, err := l.store.reserve(ctx, a.user, l.rule(l.userMax), a.id, now)
	if err != nil {
		return nil, Verdict{}, err
	}
	if !ok {
		return nil, Verdict{Reason: ReasonUser, Until: until}, nil
	}
	if a.hasIP {
		until, ok, err := l.store.reserve(ctx, a.ip, l.rule(l.ipMax), a.id, now)
		if err != nil || !ok {
			// This attempt will not run: it must not keep the user's place.
			if rerr := l.store.release(context.WithoutCancel(ctx), a.user, a.id); rerr != nil {
				l.log.WarnContext(ctx, "lockout: release reservation", "backend", l.backend, "key", a.user.short(), "error", rerr)
			}
			if err != nil {
				return nil, Verdict{}, err
			}
			return nil, Verdict{Reason: ReasonIP, Until: until}, nil
		}
	}
	return a, Verdict{Allowed: true}, nil
}

// Attempt is a login attempt that Begin admitted: it holds a place under
// the user's and the ip's thresholds until it is settled by exactly one of
// Fail, Succeed or Cancel (later calls do nothing). Settling goes through
// even when ctx has been cancelled (the client went away), because a place
// left taken would refuse the user's next attempts until it left the
// window. The methods of a nil *Attempt do nothing, for callers without a
// Limiter. It is safe for concurrent use.
type Attempt struct {
	l       *Limiter
	user    key
	ip      key
	hasIP   bool
	id      nonce
	settled atomic.Bool
}

func (a *Attempt) settle() bool {
	return a != nil && a.settled.CompareAndSwap(false, true)
}

// Fail records the attempt's wrong password (or, in a one-form login, any
// wrong credential): its places become failures of the user and the ip, and
// the returned Verdict is for the next attempt, not Allowed when either is
// now locked. Errors as for Limiter.Fail.
func (a *Attempt) Fail(ctx context.Context) (Verdict, error) {
	if !a.settle() {
		return Verdict{Allowed: true}, nil
	}
	return a.l.failKeys(context.WithoutCancel(ctx), a.user, a.ip, a.hasIP, a.id)
}

// Succeed records a right password: the user's failures are forgotten (as
// Limiter.Succeed) and the attempt's places are freed, the ip's without
// counting. A lock stays. A store error wraps ErrUnavailable; the caller
// logs it.
func (a *Attempt) Succeed(ctx context.Context) error {
	if !a.settle() {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	return errors.Join(a.l.store.reset(ctx, a.user), a.release(ctx))
}

// Cancel frees the attempt's places without counting anything: for an
// attempt that checked no password after all. Never call it after a
// password was checked. A store error wraps ErrUnavailable; the caller logs
// it (the places then stay taken until they leave the window).
func (a *Attempt) Cancel(ctx context.Context) error {
	if !a.settle() {
		return nil
	}
	return a.release(context.WithoutCancel(ctx))
}

func (a *Attempt) release(ctx context.Context) error {
	err := a.l.store.release(ctx, a.user, a.id)
	if a.hasIP {
		err = errors.Join(err, a.l.store.release(ctx, a.ip, a.id))
	}
	return err
}

// Fail records a wrong password (or, in a one-form login, any wrong
// credential) for user from ip. It counts toward both the user and the ip
// and returns the Verdict for the next attempt: not Allowed when either is
// now locked. A store error wraps ErrUnavailable; the attempt has failed
// anyway, so the caller logs it and answers as for a wrong password.
func (l *Limiter) Fail(ctx context.Context, user string, ip netip.Addr) (Verdict, error) {
	return l.failUserAndIP(ctx, nsUser, user, ip)
}

// FailSecondFactor records a wrong one-time code for user from ip. It counts
// toward the user's second-factor key (threshold MaxFailures) and the ip.
// While the second factor is locked, Check denies the user's password step
// too, so the password must be given again after the lock, never only the
// code. Errors as for Fail.
func (l *Limiter) FailSecondFactor(ctx context.Context, user string, ip netip.Addr) (Verdict, error) {
	return l.failUserAndIP(ctx, nsSecondFactor, user, ip)
}

// Succeed forgets the user's password failures after a right password
// (fail, fail, success, fail does not lock). It does not lift a lock, and it
// does not reset the ip's counter (one address may try many accounts) nor
// the second-factor counter (else a known password would reopen code
// guessing). A store error wraps ErrUnavailable; the caller logs it.
func (l *Limiter) Succeed(ctx context.Context, user string) error {
	return l.store.reset(ctx, l.userKey(nsUser, user))
}

// SucceedSecondFactor forgets the user's one-time-code failures after a
// right code. Errors as for Succeed.
func (l *Limiter) SucceedSecondFactor(ctx context.Context, user string) error {
	return l.store.reset(ctx, l.userKey(nsSecondFactor, user))
}

func (l *Limiter) failUserAndIP(ctx context.Context, ns byte, user string, ip netip.Addr) (Verdict, error) {
	ik, hasIP := l.ipKey(ip)
	return l.failKeys(ctx, l.userKey(ns, user), ik, hasIP, newNonce())
}

// failKeys records a failure of the user key uk and, if hasIP, of the
// address key ik, turning the reservation id into it where there is one.
func (l *Limiter) failKeys(ctx context.Context, uk, ik key, hasIP bool, id nonce) (Verdict, error) {
	now := l.now()
	keys := []key{uk}
	rules := []rule{l.rule(l.userMax)}
	reasons := []string{ReasonUser}
	if uk.ns == nsSecondFactor {
		reasons[0] = ReasonSecondFactor
	}
	if hasIP {
		keys = append(keys, ik)
		rules = append(rules, l.rule(l.ipMax))
		reasons = append(reasons, ReasonIP)
	}
	until := make([]time.Time, len(keys))
	for i, k := range keys {
		u, locked, err := l.store.fail(ctx, k, rules[i], id, now)
		if err != nil {
			return Verdict{}, err
		}
		until[i] = u
		if locked {
			l.log.InfoContext(ctx, "lockout: locked", "backend", l.backend, "reason", reasons[i],
				"key", k.short(), "until", u)
		}
	}
	return verdict(until, reasons), nil
}

func (l *Limiter) rule(max int) rule {
	return rule{max: max, window: l.window, lockout: l.lockout}
}

func verdict(until []time.Time, reasons []string) Verdict {
	v := Verdict{Allowed: true}
	for i, u := range until {
		if u.IsZero() {
			continue
		}
		if v.Allowed {
			v.Allowed, v.Reason = false, reasons[i]
		}
		if u.After(v.Until) {
			v.Until = u
		}
	}
	return v
}

// Key namespaces.
const (
	nsUser         = 'u'
	nsSecondFactor = 't'
	nsIP           = 'i'
)

// key is a hashed identity in one namespace.
type key struct {
	ns   byte
	hash [sha256.Size]byte
}

func (l *Limiter) userKey(ns byte, user string) key {
	return l.key(ns, Canonical(user))
}

// ipKey keys an address: IPv4 (and IPv4-mapped IPv6) whole, IPv6 by its /64.
func (l *Limiter) ipKey(ip netip.Addr) (key, bool) {
	if !ip.IsValid() {
		return key{}, false
	}
	ip = ip.Unmap().WithZone("")
	id := ip.String()
	if ip.Is6() {
		id = netip.PrefixFrom(ip, 64).Masked().String()
	}
	return l.key(nsIP, id), true
}

func (l *Limiter) key(ns byte, id string) key {
	k := key{ns: ns}
	msg := make([]byte, 0, 2+len(id))
	msg = append(msg, ns, 0)
	msg = append(msg, id...)
	if len(l.hashKey) > 0 {
		m := hmac.New(sha256.New, l.hashKey)
		m.Write(msg)
		m.Sum(k.hash[:0])
	} else {
		k.hash = sha256.Sum256(msg)
	}
	return k
}

// short names a key in logs: its namespace and the start of its hash.
func (k key) short() string {
	return fmt.Sprintf("%c:%x", k.ns, k.hash[:6])
}

// warnEvict is the memory backend's report that its table was full and live
// entries had to go: counters, and locks (which lifts them early).
func (l *Limiter) warnEvict(counters, locks int) {
	l.log.Warn("lockout: table full, evicted live entries", "counters", counters, "locks", locks)
}
