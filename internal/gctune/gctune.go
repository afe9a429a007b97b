// Package gctune gives the garbage collector a floor of headroom.
//
// With GOGC=100 the collector runs whenever the heap has grown by as much as
// is live, and at least every 4 MiB. gatehouse's live heap is small (1-2
// MiB without many sessions), so under load it collected every few
// milliseconds. Measured on the bench harness (2 cores, paired runs):
// forward-auth about 24 -> 22.5 µs of CPU per request (and, measured with
// a 16 MiB floor, cookie proxying about 70 -> 62 µs).
//
// Tuner lets the heap grow by max(live heap, Floor) between collections
// instead: the collector's percentage is raised while the live heap is
// smaller than Floor and is back at 100 once it is larger. The cost is
// memory: up to Floor of garbage before a collection (peak RSS about 6
// MiB higher with a small live heap), while a big live heap is collected
// exactly as with GOGC=100, so memory grows with sessions as before. An
// operator who sets GOGC takes over: the tuner then does nothing.
// GOMEMLIMIT still applies either way.
package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Floor is the headroom: the heap may grow by this much, or by as much as
// is live if that is more, between collections.
//
// 8 MiB rather than more: in paired runs 16 MiB saved hardly more CPU
// (forward-auth 22.0 against 22.5 µs per request, 24 µs without the tuner)
// for twice the memory, and the harness's 16-connection p99 tends to grow
// with the heap goal.
const Floor = 8 << 20

// minHeap is the runtime's least heap goal at GOGC=100. It scales with the
// percentage, so while the live heap is smaller, it sets the goal.
const minHeap = 4 << 20

// maxPercent bounds the percentage whatever the floor.
const maxPercent = 1000

// Percent is the GOGC for a live heap of live bytes that puts the next
// collection where the heap has grown by max(live, floor). While the live
// heap is under 4 MiB the runtime's minimum goal, which the percentage
// scales too, decides instead: the next collection comes when the heap
// reaches floor (a little later if the live heap is close to 4 MiB).
func Percent(live, floor uint64) int {
	base := max(live, minHeap)
	p := floor * 100 / base
	switch {
	case p < 100:
		return 100
	case p > maxPercent:
		return maxPercent
	}
	return int(p)
}

// Tuner adjusts the collector after every collection. Start one per
// process (it sets the process-wide GC percentage).
type Tuner struct {
	floor   uint64
	mu      sync.Mutex // orders Stop with an adjustment under way
	stopped bool
	current int
	after   func(percent int) // test hook: called after each adjustment
	sample  [1]metrics.Sample
}

// Start tunes the collector until the returned Tuner is stopped. It returns
// nil, and tunes nothing, when the environment sets GOGC.
func Start() *Tuner {
	if _, set := os.LookupEnv("GOGC"); set {
		return nil
	}
	return start(Floor, nil)
}

func start(floor uint64, after func(int)) *Tuner {
	t := &Tuner{floor: floor, current: 100, after: after}
	t.sample[0].Name = "/gc/heap/live:bytes"
	t.arm()
	return t
}

// Stop ends the tuning and restores GOGC=100. Safe on a nil Tuner.
func (t *Tuner) Stop() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		t.stopped = true
		debug.SetGCPercent(100)
	}
}

// arm sets a finalizer on a fresh object: it runs after the next
// collection, adjusts, and arms again. Finalizers run one at a time on the
// runtime's finalizer goroutine, so adjust never races with itself.
func (t *Tuner) arm() {
	s := new(sentinel)
	runtime.SetFinalizer(s, func(*sentinel) {
		if t.adjust() {
			t.arm()
		}
	})
}

type sentinel struct{ _ [16]byte } // not tiny-allocated: a tiny block may never be freed alone

// adjust sets the percentage for the live heap now; false once stopped.
func (t *Tuner) adjust() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	metrics.Read(t.sample[:])
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return true
	}
	p := Percent(t.sample[0].Value.Uint64(), t.floor)
	// Small changes are not worth telling the pacer about.
	if d := p - t.current; d > t.current/10 || -d > t.current/10 {
		debug.SetGCPercent(p)
		t.current = p
	}
	if t.after != nil {
		t.after(t.current)
	}
	return true
}
