package lockout

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestHashingBoundsConcurrency(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		slots int
	}{
		{"three slots", 3, 3},
		{"zero means one", 0, 1},
		{"negative means one", -4, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHashing(tt.n)
			var active, peak atomic.Int32
			entered := make(chan struct{})
			release := make(chan struct{})
			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() {
					err := h.Do(context.Background(), func() {
						n := active.Add(1)
						for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
						}
						entered <- struct{}{}
						<-release
						active.Add(-1)
					})
					if err != nil {
						t.Error(err)
					}
				})
			}
			for range tt.slots { // the slots fill up...
				<-entered
			}
			select { // ...and nobody else gets in while they are held
			case <-entered:
				t.Fatalf("a call entered beyond %d slots", tt.slots)
			default:
			}
			close(release)
			for range 10 - tt.slots {
				<-entered
			}
			wg.Wait()
			if p := peak.Load(); p != int32(tt.slots) {
				t.Errorf("peak concurrency %d, want %d", p, tt.slots)
			}
		})
	}
}

func TestHashingContext(t *testing.T) {
	h := NewHashing(1)
	hold := make(chan struct{})
	held := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- h.Do(context.Background(), func() { close(held); <-hold }) }()
	<-held

	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancelled while waiting", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(0, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"deadline passes while waiting", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Millisecond)
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		ctx, cancel := tt.ctx()
		ran := false
		err := h.Do(ctx, func() { ran = true })
		cancel()
		if !errors.Is(err, tt.want) || ran {
			t.Errorf("%s: err = %v, ran = %v; want %v and not run", tt.name, err, ran, tt.want)
		}
	}
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// An ended context is refused even when a slot is free.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := h.Do(ctx, func() { ran = true }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("ended context: err = %v, ran = %v", err, ran)
	}
}

func TestHashingFreesSlotOnPanic(t *testing.T) {
	h := NewHashing(1)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not propagate")
			}
		}()
		_ = h.Do(context.Background(), func() { panic("boom") })
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ran := false
	if err := h.Do(ctx, func() { ran = true }); err != nil || !ran {
		t.Fatalf("after a panic: err = %v, ran = %v; want the slot free", err, ran)
	}
}

func TestHashingQueueIsBounded(t *testing.T) {
	ctx := context.Background()
	h := NewHashingQueue(1, 2)
	hold := make(chan struct{})
	held := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := h.Do(ctx, func() { close(held); <-hold }); err != nil {
			t.Error(err)
		}
	})
	<-held
	var queuedRan atomic.Int32
	for range 2 {
		wg.Go(func() {
			if err := h.Do(ctx, func() { queuedRan.Add(1) }); err != nil {
				t.Errorf("a caller within the queue bound: %v", err)
			}
		})
	}
	for h.waiting.Load() != 2 { // until both are parked on the slot
		runtime.Gosched()
	}
	ran := false
	if err := h.Do(ctx, func() { ran = true }); !errors.Is(err, ErrBusy) || ran {
		t.Fatalf("with the slot held and the queue full: err = %v, ran = %v; want ErrBusy and not run", err, ran)
	}
	close(hold)
	wg.Wait()
	if n := queuedRan.Load(); n != 2 {
		t.Fatalf("%d queued callers ran, want 2", n)
	}
	if h.waiting.Load() != 0 {
		t.Fatalf("%d callers still counted as waiting", h.waiting.Load())
	}
	if err := h.Do(ctx, func() { ran = true }); err != nil || !ran {
		t.Fatalf("after the burst: err = %v, ran = %v; want the gate open", err, ran)
	}
}

func TestHashingQueueSizes(t *testing.T) {
	for _, tt := range []struct{ n, queue int }{{-1, 32}, {0, 32}, {1, 32}, {4, 32}, {8, 64}, {32, 256}} {
		if got := NewHashing(tt.n).queue; got != int64(tt.queue) {
			t.Errorf("NewHashing(%d) queues %d, want %d", tt.n, got, tt.queue)
		}
	}
	// No queue: a caller that finds every slot taken is refused at once.
	h := NewHashingQueue(1, -1)
	hold := make(chan struct{})
	held := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- h.Do(context.Background(), func() { close(held); <-hold }) }()
	<-held
	if err := h.Do(context.Background(), func() {}); !errors.Is(err, ErrBusy) {
		t.Errorf("queue < 0: err = %v, want ErrBusy", err)
	}
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
