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

// testCfg is the default policy: 5 failures in 15 minutes lock for 15 minutes.
var testCfg = config.Login{MaxFailures: 5, Window: 15 * time.Minute, Lockout: 15 * time.Minute}

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

func (h *harness) check(user string, ip netip.Addr) Verdict {
	h.t.Helper()
	v, err := h.l.Check(context.Background(), user, ip)
	if err != nil {
		h.t.Fatalf("Check(%q, %v): %v", user, ip, err)
	}
	return v
}

func (h *harness) fail(user string, ip netip.Addr) Verdict {
	h.t.Helper()
	v, err := h.l.Fail(context.Background(), user, ip)
	if err != nil {
		h.t.Fatalf("Fail(%q, %v): %v", user, ip, err)
	}
	return v
}

func (h *harness) failN(n int, user string, ip netip.Addr) {
	h.t.Helper()
	for range n {
		h.fail(user, ip)
	}
}

func (h *harness) wantAllowed(user string, ip netip.Addr) {
	h.t.Helper()
	if v := h.check(user, ip); !v.Allowed {
		h.t.Fatalf("Check(%q, %v) = %+v, want allowed", user, ip, v)
	}
}

func (h *harness) wantLocked(user string, ip netip.Addr, reason string) Verdict {
	h.t.Helper()
	v := h.check(user, ip)
	if v.Allowed || v.Reason != reason {
		h.t.Fatalf("Check(%q, %v) = %+v, want locked with %q", user, ip, v, reason)
	}
	return v
}

// behaviourCases run against every backend.
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
		if v.Allowed || v.Reason != ReasonUser || !v.Until.Equal(start.Add(testCfg.Lockout)) {
			h.t.Fatalf("fifth failure: %+v, want locked by user until %v", v, start.Add(testCfg.Lockout))
		}
		h.wantLocked("alice", ip1, ReasonUser)
		h.wantLocked("alice", ip2, ReasonUser)
		h.wantLocked("alice", netip.Addr{}, ReasonUser)
		h.wantAllowed("bob", ip1)
	}},
	{"the lock lifts after Lockout and counting starts afresh", func(h *harness) {
		h.failN(5, "alice", ip1)
		h.clk.Advance(testCfg.Lockout - time.Millisecond)
		h.wantLocked("alice", ip1, ReasonUser)
		h.clk.Advance(time.Millisecond)
		h.wantAllowed("alice", ip1)
		h.failN(4, "alice", ip2)
		h.wantAllowed("alice", ip2)
		h.fail("alice", ip2)
		h.wantLocked("alice", ip2, ReasonUser)
	}},
	{"failures while locked neither count nor extend the lock", func(h *harness) {
		h.failN(5, "alice", ip1)
		h.clk.Advance(10 * time.Minute)
		h.failN(3, "alice", ip2)
		h.clk.Advance(5 * time.Minute)
		h.wantAllowed("alice", ip1)
		h.failN(4, "alice", ip1)
		h.wantAllowed("alice", ip1)
	}},
	{"fail fail success fail does not lock", func(h *harness) {
		h.failN(2, "alice", ip1)
		if err := h.l.Succeed(context.Background(), "alice"); err != nil {
			h.t.Fatal(err)
		}
		h.fail("alice", ip1)
		h.wantAllowed("alice", ip1)
		h.failN(3, "alice", ip1) // four since the success
		h.wantAllowed("alice", ip1)
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
		h.wantLocked("alice", ip1, ReasonUser)
	}},
	{"spelling variants of one username share its lock", func(h *harness) {
		for _, u := range []string{"JOHN", " john", "John ", "john\t", "jOhN"} {
			h.fail(u, ip1)
		}
		h.wantLocked("john", ip2, ReasonUser)
		h.wantLocked(" JOHN ", ip2, ReasonUser)
	}},
	{"one address spraying 200 usernames is locked", func(h *harness) {
		failures := 0
		for i := range 200 {
			user := fmt.Sprintf("user%03d", i)
			if v := h.check(user, ip1); !v.Allowed {
				if v.Reason != ReasonIP {
					h.t.Fatalf("attempt %d: %+v, want locked by ip", i, v)
				}
				continue
			}
			h.fail(user, ip1)
			failures++
		}
		if want := 4 * testCfg.MaxFailures; failures != want {
			h.t.Fatalf("the address got %d failures before its lock, want %d", failures, want)
		}
		h.wantLocked("someone-else", ip1, ReasonIP)
		h.wantAllowed("user000", ip2) // each user failed only once
	}},
	{"an IPv6 /64 counts as one address", func(h *harness) {
		for i := range 20 {
			a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)})
			h.fail(fmt.Sprintf("u%d", i), a)
		}
		h.wantLocked("x", netip.MustParseAddr("2001:db8::ffff:1"), ReasonIP)
		h.wantAllowed("x", netip.MustParseAddr("2001:db8:0:1::1"))
	}},
	{"an IPv4-mapped address is its IPv4 address", func(h *harness) {
		mapped := netip.MustParseAddr("::ffff:203.0.113.7")
		for i := range 20 {
			h.fail(fmt.Sprintf("u%d", i), mapped)
		}
		h.wantLocked("x", ip1, ReasonIP)
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
		h.wantLocked("d", ip1, ReasonIP)
	}},
	{"the config's thresholds and durations are used", func(h *harness) {
		h.l = h.new(config.Login{MaxFailures: 2, Window: time.Minute, Lockout: time.Hour}, Options{Now: h.clk.Now})
		h.fail("alice", ip1)
		h.clk.Advance(time.Minute)
		h.fail("alice", ip1)
		h.wantAllowed("alice", ip1)
		h.fail("alice", ip1)
		h.clk.Advance(59 * time.Minute)
		h.wantLocked("alice", ip1, ReasonUser)
		h.clk.Advance(time.Minute)
		h.wantAllowed("alice", ip1)
	}},
	{"wrong one-time codes lock the user", func(h *harness) {
		ctx := context.Background()
		for range 4 {
			if _, err := h.l.FailSecondFactor(ctx, "carol", ip1); err != nil {
				h.t.Fatal(err)
			}
		}
		h.wantAllowed("carol", ip1)
		// A right password does not reopen code guessing.
		if err := h.l.Succeed(ctx, "carol"); err != nil {
			h.t.Fatal(err)
		}
		v, err := h.l.FailSecondFactor(ctx, "CAROL", ip1)
		if err != nil || v.Allowed || v.Reason != ReasonSecondFactor {
			h.t.Fatalf("fifth wrong code: %+v, %v; want locked by second factor", v, err)
		}
		h.wantLocked("carol", ip2, ReasonSecondFactor)
		h.clk.Advance(testCfg.Lockout)
		h.wantAllowed("carol", ip2)
	}},
	{"a right one-time code resets only the code counter", func(h *harness) {
		ctx := context.Background()
		h.failN(4, "carol", ip1)
		for range 4 {
			if _, err := h.l.FailSecondFactor(ctx, "carol", ip2); err != nil {
				h.t.Fatal(err)
			}
		}
		if err := h.l.SucceedSecondFactor(ctx, "carol"); err != nil {
			h.t.Fatal(err)
		}
		for range 4 {
			if _, err := h.l.FailSecondFactor(ctx, "carol", ip2); err != nil {
				h.t.Fatal(err)
			}
		}
		h.wantAllowed("carol", ip1)
		h.fail("carol", ip1)
		h.wantLocked("carol", ip1, ReasonUser)
	}},
	{"a lock reports the user before the address and the latest end", func(h *harness) {
		h.l = h.new(testCfg, Options{Now: h.clk.Now, IPMaxFailures: 5})
		start := h.clk.Now()
		h.failN(4, "x", ip1)
		h.fail("alice", ip1) // locks ip1
		h.clk.Advance(time.Minute)
		h.failN(4, "alice", ip1) // locks alice a minute later
		v := h.wantLocked("alice", ip1, ReasonUser)
		if want := start.Add(time.Minute + testCfg.Lockout); !v.Until.Equal(want) {
			h.t.Fatalf("Until = %v, want %v", v.Until, want)
		}
		v = h.wantLocked("x", ip1, ReasonIP)
		if want := start.Add(testCfg.Lockout); !v.Until.Equal(want) {
			h.t.Fatalf("Until = %v, want %v", v.Until, want)
		}
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
	if plain.userKey(nsUser, "alice") == plain.userKey(nsSecondFactor, "alice") {
		t.Error("user and second-factor namespaces share a key")
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
