package lockout

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
)

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
