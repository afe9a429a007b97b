package lockout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
)

// attemptCases run against every backend: the reserving form, Begin and an
// Attempt's Fail, Succeed and Cancel.
var attemptCases = []struct {
	name string
	run  func(h *harness)
}{
	{"unsettled attempts take the user's places", func(h *harness) {
		held := h.beginAll("alice", ip1)
		start := h.clk.Now()
		v := h.wantRefused("ALICE", ip2, ReasonUser)
		if want := start.Add(testCfg.Window); !v.Until.Equal(want) {
			h.t.Fatalf("Until = %v, want when the oldest place leaves the window, %v", v.Until, want)
		}
		if err := held[0].Cancel(context.Background()); err != nil {
			h.t.Fatal(err)
		}
		h.mustBegin("alice", ip1) // the cancelled place is free again: not locked, nothing has failed
		h.wantRefused("alice", ip1, ReasonUser)
	}},
	{"the failures of a burst lock the user", func(h *harness) {
		held := h.beginAll("alice", ip1)
		for i, a := range held[:4] {
			if v := h.failAttempt(a); !v.Allowed {
				h.t.Fatalf("failure %d: %+v, want not locked yet", i+1, v)
			}
		}
		if v := h.failAttempt(held[4]); v.Allowed || v.Reason != ReasonUser {
			h.t.Fatalf("fifth failure: %+v, want locked by user", v)
		}
		h.wantLockHolds("alice", ip2, ReasonUser, h.clk.Now())
	}},
	{"a success in a burst resets as it would one at a time", func(h *harness) {
		held := h.beginAll("alice", ip1)
		for _, a := range held[:4] {
			h.failAttempt(a)
		}
		if err := held[4].Succeed(context.Background()); err != nil {
			h.t.Fatal(err)
		}
		// Four failures, then the right password: nothing locked, the
		// count starts afresh.
		h.wantAllowed("alice", ip1)
		for range 4 {
			h.failAttempt(h.mustBegin("alice", ip1))
		}
		h.wantAllowed("alice", ip1)
	}},
	{"a success does not free the places of attempts still running", func(h *harness) {
		held := h.beginAll("alice", ip1)
		if err := held[0].Succeed(context.Background()); err != nil {
			h.t.Fatal(err)
		}
		h.mustBegin("alice", ip1) // only the succeeded attempt's place
		h.wantRefused("alice", ip1, ReasonUser)
	}},
	{"attempts in flight when the lock falls are not counted afterwards", func(h *harness) {
		// Begin admits no more attempts than there are places, so the lock
		// can fall with attempts in flight only once theirs have left the
		// window (a stalled process): then it falls on the failures of
		// others, and these attempts settle after it.
		held := h.beginAll("alice", ip1)
		h.clk.Advance(testCfg.Window)
		placed := h.clk.Now()
		end := placed.Add(testCfg.Lockout)
		h.failN(5, "alice", ip2) // locks alice while the five are running
		for _, a := range held {
			if v := h.failAttempt(a); v.Allowed || !v.Until.Equal(end) {
				h.t.Fatalf("failure while locked: %+v, want the lock unchanged, until %v", v, end)
			}
		}
		h.wantLockHolds("alice", ip2, ReasonUser, placed)
		h.clk.Advance(time.Millisecond)
		// The lock lifted and the key starts afresh: neither the
		// reservations nor their late failures are left.
		for range 4 {
			h.failAttempt(h.mustBegin("alice", ip1))
		}
		h.wantAllowed("alice", ip1)
	}},
	{"a lock drops the places of attempts still in flight", func(h *harness) {
		// Five failures whose places left the window land together with a
		// newer attempt in flight: the lock forgets that attempt's place,
		// so once the lock lifts the key has every place free.
		h.l = h.new(config.Login{MaxFailures: 5, Window: time.Hour, Lockout: 15 * time.Minute}, Options{Now: h.clk.Now})
		held := h.beginAll("alice", ip1)
		h.clk.Advance(time.Hour)
		h.mustBegin("alice", ip2) // in flight, never settled
		for _, a := range held {
			h.failAttempt(a)
		}
		h.wantLocked("alice", ip2, ReasonUser, h.clk.Now().Add(15*time.Minute))
		h.clk.Advance(15 * time.Minute) // the lock lifts; the place, kept, would still be inside the window
		for range 5 {
			h.mustBegin("alice", ip1)
		}
	}},
	{"the address's places are taken by attempts on any user", func(h *harness) {
		for i := range 4 * testCfg.MaxFailures {
			h.mustBegin(fmt.Sprintf("user%d", i), ip1)
		}
		h.wantRefused("zed", ip1, ReasonIP)
		// The refused attempt released the place it had taken for zed.
		for range testCfg.MaxFailures {
			h.mustBegin("zed", ip2)
		}
	}},
	{"a success frees its address place without counting", func(h *harness) {
		h.l = h.new(testCfg, Options{Now: h.clk.Now, IPMaxFailures: 3})
		h.failAttempt(h.mustBegin("a", ip1))
		h.failAttempt(h.mustBegin("b", ip1))
		if err := h.mustBegin("carol", ip1).Succeed(context.Background()); err != nil {
			h.t.Fatal(err)
		}
		h.wantAllowed("c", ip1)
		h.failAttempt(h.mustBegin("c", ip1))
		h.wantLockHolds("d", ip1, ReasonIP, h.clk.Now())
	}},
	{"a reservation never settled leaves with the window", func(h *harness) {
		for range testCfg.MaxFailures {
			h.mustBegin("alice", ip1) // the process died before settling
		}
		h.clk.Advance(testCfg.Window - time.Millisecond)
		h.wantRefused("alice", ip1, ReasonUser)
		h.clk.Advance(time.Millisecond)
		h.mustBegin("alice", ip1)
	}},
	{"an attempt settles once", func(h *harness) {
		ctx := context.Background()
		a := h.mustBegin("alice", ip1)
		h.failAttempt(a)
		for range 10 {
			h.failAttempt(a)
			if err := a.Cancel(ctx); err != nil {
				h.t.Fatal(err)
			}
			if err := a.Succeed(ctx); err != nil {
				h.t.Fatal(err)
			}
		}
		// One failure, and no place freed by the later calls: the places
		// are full, and nothing is locked.
		for range 3 {
			h.failAttempt(h.mustBegin("alice", ip1))
		}
		h.mustBegin("alice", ip1)
		v := h.wantRefused("alice", ip1, ReasonUser)
		if want := h.clk.Now().Add(testCfg.Window); !v.Until.Equal(want) {
			h.t.Fatalf("Until = %v, want when the oldest place leaves the window, %v", v.Until, want)
		}
	}},
	{"settling ignores a cancelled context", func(h *harness) {
		ctx, cancel := context.WithCancel(context.Background())
		held := h.beginAll("alice", ip1)
		cancel() // the clients went away
		for _, a := range held {
			if err := a.Cancel(ctx); err != nil {
				h.t.Fatal(err)
			}
		}
		for range testCfg.MaxFailures {
			h.mustBegin("alice", ip1)
		}
	}},
	{"parallel attempts get exactly the threshold", func(h *harness) {
		const n = 50
		admitted := make(chan *Attempt, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				<-start
				a, v, err := h.l.Begin(context.Background(), "alice", ip1)
				if err != nil {
					h.t.Error(err)
				}
				if v.Allowed {
					admitted <- a
				}
			})
		}
		close(start)
		wg.Wait()
		close(admitted)
		got := 0
		for a := range admitted {
			got++
			if _, err := a.Fail(context.Background()); err != nil {
				h.t.Fatal(err)
			}
		}
		if got != testCfg.MaxFailures {
			h.t.Fatalf("%d of %d parallel attempts admitted, want %d", got, n, testCfg.MaxFailures)
		}
		h.wantLockHolds("alice", ip2, ReasonUser, h.clk.Now())
	}},
}

func TestMemoryAttempts(t *testing.T) {
	for _, tt := range attemptCases {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(newMemoryHarness(t))
		})
	}
}

func TestRedisAttempts(t *testing.T) {
	c := redisClient(t, testpeers.Redis(t))
	for _, tt := range attemptCases {
		t.Run(tt.name, func(t *testing.T) { tt.run(newRedisHarness(t, c)) })
	}
}

// TestRedisReplicasShareReservations: a place taken through one replica is
// taken for the others.
func TestRedisReplicasShareReservations(t *testing.T) {
	a, b := redisReplicas(t) // a fresh server: nothing to flush
	for i := range testCfg.MaxFailures {
		if i%2 == 0 {
			a.mustBegin("alice", ip1)
		} else {
			b.mustBegin("alice", ip2)
		}
	}
	a.wantRefused("alice", ip1, ReasonUser)
	b.wantRefused("alice", ip2, ReasonUser)
}

func TestRedisDownBeginFailsClosed(t *testing.T) {
	srv := testpeers.StartRedis(t)
	clk := newClock()
	l := newRedisLimiter(t, redisClient(t, srv.Addr), testCfg, Options{Now: clk.Now})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv.Stop()
	a, v, err := l.Begin(ctx, "alice", ip1)
	if !errors.Is(err, ErrUnavailable) || v.Allowed || a != nil {
		t.Fatalf("Begin with Redis down = %v, %+v, %v; want refused with ErrUnavailable", a, v, err)
	}
}

func TestNilAttemptDoesNothing(t *testing.T) {
	var a *Attempt
	ctx := context.Background()
	if v, err := a.Fail(ctx); err != nil || !v.Allowed {
		t.Errorf("Fail = %+v, %v", v, err)
	}
	if err := a.Succeed(ctx); err != nil {
		t.Errorf("Succeed = %v", err)
	}
	if err := a.Cancel(ctx); err != nil {
		t.Errorf("Cancel = %v", err)
	}
}
