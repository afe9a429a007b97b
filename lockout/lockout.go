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
// There are two key namespaces, each keyed on a canonical identity:
//   - user: failed logins for a username (threshold MaxFailures);
//   - IP: every failure from one client address (threshold
//     Options.IPMaxFailures, default 4×MaxFailures), which catches password
//     spraying (one address, many usernames). IPv6 clients are grouped by
//     their /64, which one host usually controls whole.
//
// A login is one attempt whatever it carries: a wrong password and, in the
// one-form login, a wrong or replayed one-time code are both a failure of
// the attempt, counted for the user and the ip.
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
// hashing gate refused, the client went away). The client IP must come
// from the socket peer or the trusted-proxy chain only, never from a header
// an untrusted client sets.
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
package lockout

import (
	"errors"
	"time"
)

// ErrUnavailable wraps every error from the shared store (Redis). A Begin
// that returns it has not established that the attempt may proceed: the
// caller must refuse the login (503), never let it through, so an outage
// cannot open the door to unlimited guessing.
var ErrUnavailable = errors.New("lockout: store unavailable")

// Reasons a Verdict denies an attempt. They are for logs only; the client
// must never see them.
const (
	ReasonUser = "user locked"
	ReasonIP   = "ip locked"
)

// DefaultMaxEntries bounds the memory backend when Options.MaxEntries is 0.
const DefaultMaxEntries = 100_000

// Verdict is the answer of Begin (and, from Attempt.Fail, the state for the
// next attempt).
type Verdict struct {
	// Allowed reports whether the attempt may proceed.
	Allowed bool
	// Reason says which key denied it (ReasonUser or ReasonIP; the first
	// that applies, in that order). For logs only: a locked account must
	// look like a wrong password to the client.
	Reason string
	// Until is when every lock that denied the attempt has lifted; zero
	// when Allowed. For logs only, like Reason.
	Until time.Time
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
