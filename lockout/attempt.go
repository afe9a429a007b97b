package lockout

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"time"
)

// Begin admits and reserves one login attempt by user from ip; see "What
// the caller does" above. It is refused while the user or the ip is locked
// (Until is then when every lock that applies lifts), and while the user's
// or the ip's failures and unsettled attempts inside the window already
// reach its threshold (the Verdict then names that key as locked, and Until
// is when its oldest entry leaves the window; in-flight attempts may free a
// place sooner). When the
// Verdict is Allowed the Attempt is non-nil and must be settled once. An
// invalid ip is not limited by address. A store error wraps ErrUnavailable:
// the caller must refuse the attempt, and nothing stays reserved that could
// be released.
func (l *Limiter) Begin(ctx context.Context, user string, ip netip.Addr) (*Attempt, Verdict, error) {
	// Locks first, so a locked key is reported as such, with the end of
	// its lock, rather than as a key whose places are taken.
	v, err := l.locked(ctx, user, ip)
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
// now locked. A store error wraps ErrUnavailable; the attempt has failed
// anyway, so the caller logs it and answers as for a wrong password.
func (a *Attempt) Fail(ctx context.Context) (Verdict, error) {
	if !a.settle() {
		return Verdict{Allowed: true}, nil
	}
	return a.l.failKeys(context.WithoutCancel(ctx), a.user, a.ip, a.hasIP, a.id)
}

// Succeed records a right password (and code): the user's failures are
// forgotten, so fail, fail, success, fail does not lock, and the attempt's
// places are freed, the ip's without counting (one address may try many
// accounts). A lock stays. A store error wraps ErrUnavailable; the caller
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

// locked reports whether user or ip is locked at now, the user first. An
// invalid ip is not limited by address.
func (l *Limiter) locked(ctx context.Context, user string, ip netip.Addr) (Verdict, error) {
	keys := []key{l.userKey(nsUser, user)}
	reasons := []string{ReasonUser}
	if k, ok := l.ipKey(ip); ok {
		keys = append(keys, k)
		reasons = append(reasons, ReasonIP)
	}
	until, err := l.store.lockedUntil(ctx, keys, l.now())
	if err != nil {
		return Verdict{}, err
	}
	return verdict(until, reasons), nil
}

// failKeys records a failure of the user key uk and, if hasIP, of the
// address key ik, turning the reservation id into it where there is one.
func (l *Limiter) failKeys(ctx context.Context, uk, ik key, hasIP bool, id nonce) (Verdict, error) {
	now := l.now()
	keys := []key{uk}
	rules := []rule{l.rule(l.userMax)}
	reasons := []string{ReasonUser}
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
