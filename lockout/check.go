package lockout

import (
	"context"
	"net/netip"
	"time"
)

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
