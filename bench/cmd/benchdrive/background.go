package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// background measures CPU used during a run by processes outside the
// harness: the machine's busy time (/proc/stat) minus the CPU of every
// process descending from the harness's root, and minus wrk's.
type background struct {
	root    int
	start   time.Time
	busy0   int64
	harness map[int]int64 // pid → CPU ticks at the start
	ok      bool
}

func (w wrk) startBackground() *background {
	b := &background{root: w.root, start: time.Now()}
	var err error
	if b.busy0, err = systemBusyTicks(); err != nil || w.root <= 1 {
		return b
	}
	b.harness = descendantTicks(w.root)
	b.ok = true
	return b
}

// stop returns the background load in cores (0 when it cannot be measured).
func (b *background) stop(wrkState interface {
	UserTime() time.Duration
	SystemTime() time.Duration
}) float64 {
	busy1, err := systemBusyTicks()
	if !b.ok || err != nil {
		return 0
	}
	wall := time.Since(b.start).Seconds()
	var harness int64
	now := descendantTicks(b.root)
	for pid, t0 := range b.harness {
		if t1, ok := now[pid]; ok && t1 >= t0 {
			harness += t1 - t0
		}
	}
	wrkTicks := int64((wrkState.UserTime() + wrkState.SystemTime()).Seconds() * clockTicks)
	other := busy1 - b.busy0 - harness - wrkTicks
	return max(0, float64(other)/clockTicks/wall)
}

// systemBusyTicks is the non-idle time of all CPUs from /proc/stat's "cpu" line.
func systemBusyTicks() (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, os.ErrInvalid
	}
	var busy int64
	for i, v := range f[1:9] { // user nice system idle iowait irq softirq steal
		if i == 3 || i == 4 {
			continue // idle, iowait
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, err
		}
		busy += n
	}
	return busy, nil
}

// descendantTicks maps every live descendant of root (not root itself) to
// its CPU ticks.
func descendantTicks(root int) map[int]int64 {
	parent := map[int]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			parent[pid] = pp
		}
	}
	out := map[int]int64{}
	for pid := range parent {
		for p, hops := parent[pid], 0; p > 1 && hops < 64; p, hops = parent[p], hops+1 {
			if p == root {
				if t, err := cpuTicks(pid); err == nil {
					out[pid] = t
				}
				break
			}
		}
	}
	return out
}
