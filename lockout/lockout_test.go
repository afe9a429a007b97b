package lockout

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/testclock"
)

// testCfg is the policy the tests use: 5 failures in 10 minutes lock for 30
// minutes. Lockout differs from Window (unlike the defaults, 15 and 15) so
// that a lock can be told from a window full of failures or reservations:
// a refusal by a lock ends (Until) Lockout after the failure that placed
// it, and it still holds after that failure has left the window.
var testCfg = config.Login{MaxFailures: 5, Window: 10 * time.Minute, Lockout: 30 * time.Minute}

func init() {
	// A lock must outlast the window of the failures that placed it, or
	// the tests could not tell it from them.
	if testCfg.Lockout <= testCfg.Window {
		panic("lockout tests: testCfg.Lockout must exceed testCfg.Window")
	}
}

var (
	ip1 = netip.MustParseAddr("203.0.113.7")
	ip2 = netip.MustParseAddr("198.51.100.9")
)

// newClock starts a test clock at a fixed time so windows are reproducible.
func newClock() *testclock.Clock { return testclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) }

// harness is one behaviour case's limiter, its clock, and a way to build
// another limiter on the same backend and clock.
type harness struct {
	t   *testing.T
	clk *testclock.Clock
	l   *Limiter
	new func(cfg config.Login, opts Options) *Limiter
}

// begin is Begin, which must not fail; an Attempt exactly when allowed.
func (h *harness) begin(user string, ip netip.Addr) (*Attempt, Verdict) {
	h.t.Helper()
	a, v, err := h.l.Begin(context.Background(), user, ip)
	if err != nil {
		h.t.Fatalf("Begin(%q, %v): %v", user, ip, err)
	}
	if v.Allowed != (a != nil) {
		h.t.Fatalf("Begin(%q, %v) = %v, %+v: an Attempt exactly when allowed", user, ip, a, v)
	}
	return a, v
}

func (h *harness) mustBegin(user string, ip netip.Addr) *Attempt {
	h.t.Helper()
	a, v := h.begin(user, ip)
	if !v.Allowed {
		h.t.Fatalf("Begin(%q, %v) = %+v, want allowed", user, ip, v)
	}
	return a
}

// beginAll takes every place the user has (max_failures attempts).
func (h *harness) beginAll(user string, ip netip.Addr) []*Attempt {
	h.t.Helper()
	var held []*Attempt
	for range testCfg.MaxFailures {
		held = append(held, h.mustBegin(user, ip))
	}
	return held
}

func (h *harness) failAttempt(a *Attempt) Verdict {
	h.t.Helper()
	v, err := a.Fail(context.Background())
	if err != nil {
		h.t.Fatalf("Attempt.Fail: %v", err)
	}
	return v
}

// fail is one wrong password, as the login form makes it: an attempt that
// must be admitted, then fails. It returns the Verdict for the next one.
func (h *harness) fail(user string, ip netip.Addr) Verdict {
	h.t.Helper()
	return h.failAttempt(h.mustBegin(user, ip))
}

func (h *harness) failN(n int, user string, ip netip.Addr) {
	h.t.Helper()
	for range n {
		h.fail(user, ip)
	}
}

// succeed is one right password: an attempt that must be admitted, then
// succeeds.
func (h *harness) succeed(user string, ip netip.Addr) {
	h.t.Helper()
	if err := h.mustBegin(user, ip).Succeed(context.Background()); err != nil {
		h.t.Fatalf("Attempt.Succeed: %v", err)
	}
}

// wantAllowed asserts that Begin admits an attempt, and cancels it, so
// that asking counts nothing and takes no place.
func (h *harness) wantAllowed(user string, ip netip.Addr) {
	h.t.Helper()
	if err := h.mustBegin(user, ip).Cancel(context.Background()); err != nil {
		h.t.Fatalf("Attempt.Cancel: %v", err)
	}
}

// wantRefused asserts that Begin refuses an attempt for reason.
func (h *harness) wantRefused(user string, ip netip.Addr, reason string) Verdict {
	h.t.Helper()
	_, v := h.begin(user, ip)
	if v.Allowed || v.Reason != reason {
		h.t.Fatalf("Begin(%q, %v) = %+v, want refused with %q", user, ip, v, reason)
	}
	return v
}

// wantLocked asserts that Begin refuses an attempt because a lock placed
// for reason lasts until until.
func (h *harness) wantLocked(user string, ip netip.Addr, reason string, until time.Time) {
	h.t.Helper()
	if v := h.wantRefused(user, ip, reason); !v.Until.Equal(until) {
		h.t.Fatalf("Begin(%q, %v) = %+v, want locked until %v", user, ip, v, until)
	}
}

// wantLockHolds asserts that the lock placed for reason at placed (by the
// failure that reached the threshold) is a lock, not a full window: Begin
// reports its end, Lockout after placed; it still holds once those
// failures have left the window, even after another key has been counted
// (which lets the memory store sweep what has expired); and it holds until
// just before its end. It leaves the clock there.
func (h *harness) wantLockHolds(user string, ip netip.Addr, reason string, placed time.Time) {
	h.t.Helper()
	end := placed.Add(testCfg.Lockout)
	h.wantLocked(user, ip, reason, end)
	h.advanceTo(placed.Add(testCfg.Window))
	h.wantLocked(user, ip, reason, end)
	h.fail("sweeper", netip.MustParseAddr("192.0.2.250"))
	h.wantLocked(user, ip, reason, end)
	h.advanceTo(end.Add(-time.Millisecond))
	h.wantLocked(user, ip, reason, end)
}

// advanceTo moves the clock forward to t.
func (h *harness) advanceTo(t time.Time) {
	h.t.Helper()
	d := t.Sub(h.clk.Now())
	if d < 0 {
		h.t.Fatalf("advanceTo(%v): the clock is already at %v", t, h.clk.Now())
	}
	h.clk.Advance(d)
}

// behaviourCases run against every backend, one attempt at a time through
// Begin and the Attempt's Fail, Succeed and Cancel.
var behaviourCases = []struct {
	name string
	run  func(h *harness)
}{
	{"five failures lock the user from any address", func(h *harness) {
		start := h.clk.Now()
		for i := range 4 {
			if v := h.fail("alice", ip1); !v.Allowed {
				h.t.Fatalf("failure %d: %+v, want still allowed", i+1, v)
			}
		}
		h.wantAllowed("alice", ip1)
		v := h.fail("alice", ip1)
		end := start.Add(testCfg.Lockout)
		if v.Allowed || v.Reason != ReasonUser || !v.Until.Equal(end) {
			h.t.Fatalf("fifth failure: %+v, want locked by user until %v", v, end)
		}
		h.wantLocked("alice", ip1, ReasonUser, end)
		h.wantLocked("alice", ip2, ReasonUser, end)
		h.wantLocked("alice", netip.Addr{}, ReasonUser, end)
		h.wantAllowed("bob", ip1)
		h.wantLockHolds("alice", ip2, ReasonUser, start)
	}},
	{"the lock lifts after Lockout and counting starts afresh", func(h *harness) {
		start := h.clk.Now()
		h.failN(5, "alice", ip1)
		h.wantLockHolds("alice", ip1, ReasonUser, start)
		h.clk.Advance(time.Millisecond)
		h.wantAllowed("alice", ip1)
		h.failN(4, "alice", ip2)
		h.wantAllowed("alice", ip2)
		h.fail("alice", ip2)
		h.wantLocked("alice", ip2, ReasonUser, h.clk.Now().Add(testCfg.Lockout))
	}},
	{"failures while locked neither count nor extend the lock", func(h *harness) {
		// Only attempts admitted before the lock can fail while it holds:
		// these three were begun a window before it and never settled, so
		// their places have left the window (a stalled process).
		var late []*Attempt
		for range 3 {
			late = append(late, h.mustBegin("alice", ip2))
		}
		h.clk.Advance(testCfg.Window)
		start := h.clk.Now()
		h.failN(5, "alice", ip1)
		h.clk.Advance(testCfg.Window) // the failures that locked have left the window
		end := start.Add(testCfg.Lockout)
		for _, a := range late {
			if v := h.failAttempt(a); v.Allowed || v.Reason != ReasonUser || !v.Until.Equal(end) {
				h.t.Fatalf("failure while locked: %+v, want the lock unchanged, until %v", v, end)
			}
		}
		h.wantLockHolds("alice", ip1, ReasonUser, start)
		h.clk.Advance(time.Millisecond)
		h.wantAllowed("alice", ip1)
		h.failN(4, "alice", ip1)
		h.wantAllowed("alice", ip1)
	}},
	{"fail fail success fail does not lock", func(h *harness) {
		h.failN(2, "alice", ip1)
		h.succeed("alice", ip1)
		h.fail("alice", ip1)
		h.wantAllowed("alice", ip1)
		h.failN(3, "alice", ip1) // four since the success
		h.wantAllowed("alice", ip1)
	}},
	{"a success does not lift a lock", func(h *harness) {
		// The lock refuses every attempt, so a right password cannot even
		// be tried: an attempt admitted before the lock succeeds after it.
		late := h.mustBegin("alice", ip2)
		h.clk.Advance(testCfg.Window)
		start := h.clk.Now()
		h.failN(5, "alice", ip1)
		if err := late.Succeed(context.Background()); err != nil {
			h.t.Fatal(err)
		}
		h.wantLockHolds("alice", ip1, ReasonUser, start)
	}},
	{"three failures spread over more than Window do not lock", func(h *harness) {
		for range 3 {
			h.fail("alice", ip1)
			h.clk.Advance(8 * time.Minute)
		}
		h.wantAllowed("alice", ip1)
	}},
	{"steady failures below the rate never lock", func(h *harness) {
		for i := range 40 { // four per window, for ten windows
			if v := h.fail("alice", ip1); !v.Allowed {
				h.t.Fatalf("failure %d: %+v, want allowed", i+1, v)
			}
			h.clk.Advance(testCfg.Window / 4)
		}
	}},
	{"a failure exactly Window old no longer counts", func(h *harness) {
		h.failN(4, "alice", ip1)
		h.clk.Advance(testCfg.Window)
		h.fail("alice", ip1)
		h.wantAllowed("alice", ip1)
		h.failN(3, "alice", ip1)
		h.wantAllowed("alice", ip1)
		h.fail("alice", ip1)
		h.wantLockHolds("alice", ip1, ReasonUser, h.clk.Now())
	}},
	{"spelling variants of one username share its lock", func(h *harness) {
		for _, u := range []string{"JOHN", " john", "John ", "john\t", "jOhN"} {
			h.fail(u, ip1)
		}
		placed := h.clk.Now()
		h.wantLocked("john", ip2, ReasonUser, placed.Add(testCfg.Lockout))
		h.wantLockHolds(" JOHN ", ip2, ReasonUser, placed)
	}},
	{"one address spraying 200 usernames is locked", func(h *harness) {
		failures := 0
		for i := range 200 {
			user := fmt.Sprintf("user%03d", i)
			a, v := h.begin(user, ip1)
			if !v.Allowed {
				if v.Reason != ReasonIP {
					h.t.Fatalf("attempt %d: %+v, want locked by ip", i, v)
				}
				continue
			}
			h.failAttempt(a)
			failures++
		}
		if want := 4 * testCfg.MaxFailures; failures != want {
			h.t.Fatalf("the address got %d failures before its lock, want %d", failures, want)
		}
		h.wantAllowed("user000", ip2) // each user failed only once
		h.wantLockHolds("someone-else", ip1, ReasonIP, h.clk.Now())
	}},
	{"an IPv6 /64 counts as one address", func(h *harness) {
		for i := range 20 {
			a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)})
			h.fail(fmt.Sprintf("u%d", i), a)
		}
		h.wantAllowed("x", netip.MustParseAddr("2001:db8:0:1::1"))
		h.wantLockHolds("x", netip.MustParseAddr("2001:db8::ffff:1"), ReasonIP, h.clk.Now())
	}},
	{"an IPv4-mapped address is its IPv4 address", func(h *harness) {
		mapped := netip.MustParseAddr("::ffff:203.0.113.7")
		for i := range 20 {
			h.fail(fmt.Sprintf("u%d", i), mapped)
		}
		h.wantLockHolds("x", ip1, ReasonIP, h.clk.Now())
	}},
	{"no known address is limited by user only", func(h *harness) {
		for i := range 30 {
			h.fail(fmt.Sprintf("u%d", i), netip.Addr{})
		}
		h.wantAllowed("x", netip.Addr{})
	}},
	{"IPMaxFailures sets the address threshold", func(h *harness) {
		h.l = h.new(testCfg, Options{Now: h.clk.Now, IPMaxFailures: 3})
		h.failN(1, "a", ip1)
		h.failN(1, "b", ip1)
		h.wantAllowed("c", ip1)
		h.fail("c", ip1)
		h.wantLockHolds("d", ip1, ReasonIP, h.clk.Now())
	}},
	{"the config's thresholds and durations are used", func(h *harness) {
		h.l = h.new(config.Login{MaxFailures: 2, Window: time.Minute, Lockout: time.Hour}, Options{Now: h.clk.Now})
		h.fail("alice", ip1)
		h.clk.Advance(time.Minute)
		h.fail("alice", ip1)
		h.wantAllowed("alice", ip1)
		h.fail("alice", ip1)
		end := h.clk.Now().Add(time.Hour)
		h.wantLocked("alice", ip1, ReasonUser, end)
		h.clk.Advance(59*time.Minute + 59*time.Second)
		h.wantLocked("alice", ip1, ReasonUser, end)
		h.clk.Advance(time.Second)
		h.wantAllowed("alice", ip1)
	}},
	{"a lock reports the user before the address and the latest end", func(h *harness) {
		h.l = h.new(testCfg, Options{Now: h.clk.Now, IPMaxFailures: 5})
		start := h.clk.Now()
		h.failN(4, "x", ip1)
		h.fail("y", ip1) // locks ip1
		h.clk.Advance(time.Minute)
		h.failN(5, "alice", ip2) // locks alice a minute later
		h.wantLocked("alice", ip1, ReasonUser, start.Add(time.Minute+testCfg.Lockout))
		h.wantLocked("x", ip1, ReasonIP, start.Add(testCfg.Lockout))
		h.clk.Advance(testCfg.Window) // every failure has left the window
		h.wantLocked("alice", ip1, ReasonUser, start.Add(time.Minute+testCfg.Lockout))
		h.wantLocked("x", ip1, ReasonIP, start.Add(testCfg.Lockout))
	}},
}

func TestCanonical(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"lower case kept", "john", "john"},
		{"upper case folded", "JOHN", "john"},
		{"spaces trimmed", "  John \t\n", "john"},
		{"inner space kept", "john smith", "john smith"},
		{"email kept whole", "John@Example.COM", "john@example.com"},
		{"non-ASCII folded", "ÄNNE", "änne"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		if got := Canonical(tt.in); got != tt.want {
			t.Errorf("%s: Canonical(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		cfg     config.Login
		opts    Options
		wantErr bool
	}{
		{"zero config takes the defaults", config.Login{}, Options{}, false},
		{"negative max failures", config.Login{MaxFailures: -1}, Options{}, true},
		{"negative window", config.Login{Window: -time.Second}, Options{}, true},
		{"negative lockout", config.Login{Lockout: -time.Second}, Options{}, true},
		{"negative ip threshold", config.Login{}, Options{IPMaxFailures: -1}, true},
		{"negative max entries", config.Login{}, Options{MaxEntries: -1}, true},
	}
	for _, tt := range tests {
		l, err := NewMemory(tt.cfg, tt.opts)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if err == nil && (l.userMax != config.DefaultMaxFailures || l.ipMax != 4*config.DefaultMaxFailures ||
			l.window != config.DefaultLoginWindow || l.lockout != config.DefaultLockout) {
			t.Errorf("%s: limiter %+v, want the defaults", tt.name, l)
		}
	}
	if _, err := NewRedis(nil, testCfg, Options{}); err == nil {
		t.Error("NewRedis(nil client) succeeded")
	}
}

func TestKeysAreKeyedHashes(t *testing.T) {
	plain, err := NewMemory(testCfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	keyed, err := NewMemory(testCfg, Options{HashKey: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	if plain.userKey(nsUser, "alice") == keyed.userKey(nsUser, "alice") {
		t.Error("HashKey did not change the key")
	}
	if plain.userKey(nsUser, "203.0.113.7") == mustIPKey(t, plain, "203.0.113.7") {
		t.Error("user and ip namespaces share a key")
	}
	if a, _ := plain.ipKey(netip.MustParseAddr("fe80::1%eth0")); a != mustIPKey(t, plain, "fe80::2") {
		t.Error("zone or host bits of an IPv6 address changed its key")
	}
}

func mustIPKey(t *testing.T, l *Limiter, s string) key {
	t.Helper()
	k, ok := l.ipKey(netip.MustParseAddr(s))
	if !ok {
		t.Fatalf("no key for %s", s)
	}
	return k
}
