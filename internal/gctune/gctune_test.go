package gctune

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{0, 16 * mib, 400},                // nothing measured yet: the 4 MiB minimum ×4 is the goal
		{1 * mib, 16 * mib, 400},          // goal max(16 MiB, 5 MiB) = 16 MiB
		{4 * mib, 16 * mib, 400},          // goal 20 MiB: 16 MiB of headroom
		{8 * mib, 16 * mib, 200},          // goal 24 MiB
		{12 * mib, 16 * mib, 133},         // goal 28 MiB
		{16 * mib, 16 * mib, 100},         // from here on, GOGC=100
		{64 * mib, 16 * mib, 100},         //
		{1 * mib, 1024 * mib, maxPercent}, // bounded
	} {
		if got := Percent(c.live, c.floor); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.live, c.floor, got, c.want)
		}
	}
}

func gogc(t *testing.T) int {
	t.Helper()
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// After a collection the tuner sets the percentage its Percent gives for
// the live heap then, and Stop puts GOGC=100 back.
func TestTunerFollowsTheLiveHeap(t *testing.T) {
	adjusted := make(chan int, 16)
	// A floor far above this test's live heap: the percentage must rise.
	tu := start(1<<30, func(p int) {
		select {
		case adjusted <- p:
		default: // never block the finalizer goroutine
		}
	})
	defer tu.Stop()
	runtime.GC()
	select {
	case p := <-adjusted:
		if p != maxPercent {
			t.Fatalf("adjusted to %d, want %d (the floor is far above the live heap)", p, maxPercent)
		}
		if got := gogc(t); got != p {
			t.Fatalf("the runtime's GOGC is %d after the tuner set %d", got, p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no adjustment after a collection")
	}
	// It keeps following: the next collection runs the finalizer again.
	runtime.GC()
	select {
	case <-adjusted:
	case <-time.After(10 * time.Second):
		t.Fatal("the tuner did not re-arm after its first adjustment")
	}
	tu.Stop()
	if got := gogc(t); got != 100 {
		t.Fatalf("GOGC after Stop = %d, want 100", got)
	}
}

func TestStartLeavesAnOperatorsGOGC(t *testing.T) {
	t.Setenv("GOGC", "100")
	if tu := Start(); tu != nil {
		tu.Stop()
		t.Fatal("Start tuned the collector although GOGC is set")
	}
}
