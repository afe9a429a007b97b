package lockout

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
)

func newMemoryHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, clk: newClock()}
	h.new = func(cfg config.Login, opts Options) *Limiter {
		t.Helper()
		l, err := NewMemory(cfg, opts)
		if err != nil {
			t.Fatalf("NewMemory: %v", err)
		}
		return l
	}
	h.l = h.new(testCfg, Options{Now: h.clk.Now})
	return h
}

func TestMemoryBehaviour(t *testing.T) {
	for _, tt := range behaviourCases {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(newMemoryHarness(t))
		})
	}
}

func TestMemoryIsBounded(t *testing.T) {
	var logs bytes.Buffer
	clk := newClock()
	l, err := NewMemory(testCfg, Options{Now: clk.Now, MaxEntries: 50,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mem := l.store.(*memory)
	h := &harness{t: t, clk: clk, l: l}

	end := clk.Now().Add(testCfg.Lockout)
	h.failN(5, "victim", netip.Addr{})
	h.wantLocked("victim", netip.Addr{}, ReasonUser, end)
	for i := range 5000 { // random usernames from random addresses
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		h.fail(fmt.Sprintf("spray%d", i), a)
		if n := mem.len(); n > 50 {
			t.Fatalf("after %d failures the table holds %d entries, want at most 50", i+1, n)
		}
	}
	// Counters went first: the lock survived the spray.
	h.wantLocked("victim", netip.Addr{}, ReasonUser, end)
	if n := strings.Count(logs.String(), "table full"); n != 1 {
		t.Errorf("%d table-full warnings within a minute, want 1:\n%s", n, logs.String())
	}

	// A table of locks only gives up its oldest lock.
	for i := range 60 {
		h.failN(5, fmt.Sprintf("locked%d", i), netip.Addr{})
	}
	if n := mem.len(); n != 50 {
		t.Fatalf("table holds %d entries, want 50", n)
	}
	h.wantAllowed("victim", netip.Addr{})
	h.wantLocked("locked59", netip.Addr{}, ReasonUser, end)
}

func TestMemoryForgetsExpiredEntries(t *testing.T) {
	h := newMemoryHarness(t)
	mem := h.l.store.(*memory)
	for i := range 100 {
		h.fail(fmt.Sprintf("u%d", i), netip.Addr{})
	}
	h.clk.Advance(time.Minute)
	h.failN(5, "locked", netip.Addr{})
	h.clk.Advance(testCfg.Window - time.Minute) // counters expire; the lock has not lifted
	h.fail("new", netip.Addr{})
	if n := mem.len(); n != 2 {
		t.Fatalf("table holds %d entries, want 2 (the lock and the new counter)", n)
	}
	h.clk.Advance(testCfg.Lockout)
	h.fail("newer", netip.Addr{})
	if n := mem.len(); n != 1 {
		t.Fatalf("table holds %d entries, want 1", n)
	}
	h.succeed("newer", netip.Addr{})
	if n := mem.len(); n != 0 {
		t.Fatalf("table holds %d entries after success, want 0", n)
	}
}

func TestMemoryConcurrentUse(t *testing.T) {
	l, err := NewMemory(testCfg, Options{MaxEntries: 64})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				user := fmt.Sprintf("u%d", (g*7+i)%40)
				ip := netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 16)})
				a, v, err := l.Begin(ctx, user, ip)
				if err != nil {
					t.Error(err)
				}
				if !v.Allowed {
					continue
				}
				switch i % 5 {
				case 0:
					err = a.Succeed(ctx)
				case 1:
					err = a.Cancel(ctx)
				default:
					_, err = a.Fail(ctx)
				}
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n := l.store.(*memory).len(); n > 64 {
		t.Fatalf("table holds %d entries, want at most 64", n)
	}
}
