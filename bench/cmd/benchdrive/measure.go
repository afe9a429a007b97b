package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/PID/stat; 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// Sample is one wrk run against one target.
type Sample struct {
	Requests      int64
	RPS           float64
	P50, P99      float64 // µs
	CPUPerReq     float64 // µs of server CPU (user+system) per request
	PeerCPUPerReq float64 // µs of the backing service's CPU per request (0 = none)
	PeakRSS       int64   // bytes, VmHWM during the run
	StatusErrors  int64   // responses with status ≥ 400
	SocketErrors  int64
	// Background is the CPU, in cores, that processes outside the harness
	// used during the run: another workload on the machine skews a run.
	Background float64
}

func (s Sample) warning() string {
	if s.StatusErrors == 0 && s.SocketErrors == 0 {
		return ""
	}
	return fmt.Sprintf("  !! %d error statuses, %d socket errors", s.StatusErrors, s.SocketErrors)
}

type wrk struct {
	ctx     context.Context // ends the running wrk when cancelled
	luaDir  string
	threads int
	root    int      // the harness's root process
	prefix  []string // runs wrk through this command (taskset -c …), if set
}

// measure runs wrk against t for d with conns connections and accounts the
// server's CPU time and peak RSS over exactly that run.
func (w wrk) measure(t Target, conns int, d string, env ...string) (Sample, error) {
	return w.run(t.Name, t.URL, t.PID, t.PeerPID, conns, w.threads, d, "headers.lua",
		append(env, "BENCH_HEADERS="+strings.Join(t.Headers, "\n"))...)
}

func (w wrk) run(name, url string, pid, peer, conns, threads int, d, script string, env ...string) (Sample, error) {
	threads = min(threads, conns)
	if err := resetPeak(pid); err != nil {
		return Sample{}, fmt.Errorf("%s: %w", name, err)
	}
	cpu0, err := cpuTicks(pid)
	if err != nil {
		return Sample{}, fmt.Errorf("%s: %w", name, err)
	}
	var peer0 int64
	if peer > 0 {
		if peer0, err = cpuTicks(peer); err != nil {
			return Sample{}, fmt.Errorf("%s: peer: %w", name, err)
		}
	}
	bg := w.startBackground()
	args := append(slices.Clone(w.prefix), "wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", d,
		"--timeout", "10s", "-s", filepath.Join(w.luaDir, script), url)
	cmd := exec.CommandContext(w.ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), append(env, "BENCH_LUA_DIR="+w.luaDir, "BENCH_THREADS="+strconv.Itoa(threads))...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return Sample{}, fmt.Errorf("%s: wrk: %w: %s", name, err, errOut.String())
	}
	cpu1, err := cpuTicks(pid)
	if err != nil {
		return Sample{}, fmt.Errorf("%s: %w", name, err)
	}
	s, err := parseWrk(out.String())
	if err != nil {
		return Sample{}, fmt.Errorf("%s: %w\n%s%s", name, err, out.String(), errOut.String())
	}
	s.Background = bg.stop(cmd.ProcessState)
	if s.Requests > 0 {
		s.CPUPerReq = ticksToMicros(cpu1-cpu0) / float64(s.Requests)
		if peer > 0 {
			peer1, err := cpuTicks(peer)
			if err != nil {
				return Sample{}, fmt.Errorf("%s: peer: %w", name, err)
			}
			s.PeerCPUPerReq = ticksToMicros(peer1-peer0) / float64(s.Requests)
		}
	}
	if s.PeakRSS, err = procStatusBytes(pid, "VmHWM"); err != nil {
		return Sample{}, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

func ticksToMicros(t int64) float64 { return float64(t) * 1e6 / clockTicks }

// parseWrk reads the BENCH_RESULT line printed by wrk/report.lua.
func parseWrk(out string) (Sample, error) {
	for line := range strings.SplitSeq(out, "\n") {
		if !strings.HasPrefix(line, "BENCH_RESULT ") {
			continue
		}
		var s Sample
		var durUS int64
		_, err := fmt.Sscanf(line, "BENCH_RESULT requests=%d duration_us=%d p50_us=%g p99_us=%g status_errors=%d socket_errors=%d",
			&s.Requests, &durUS, &s.P50, &s.P99, &s.StatusErrors, &s.SocketErrors)
		if err != nil {
			return Sample{}, fmt.Errorf("parse wrk result %q: %w", line, err)
		}
		if durUS > 0 {
			s.RPS = float64(s.Requests) * 1e6 / float64(durUS)
		}
		return s, nil
	}
	return Sample{}, errors.New("wrk printed no BENCH_RESULT line")
}

// cpuTicks is the process's user+system CPU time (all threads) in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("process %d is gone: %w", pid, err)
	}
	// The command name (field 2) may hold spaces; fields after its ')' are fixed.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return utime + stime, nil
}

// procStatusBytes reads a "kB" field (VmRSS, VmHWM) of /proc/PID/status.
func procStatusBytes(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("process %d is gone: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status %s: %w", pid, field, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// resetPeak sets VmHWM back to the current RSS (proc(5), clear_refs "5"), so
// the next reading is the peak of one run, not of the process's life.
func resetPeak(pid int) error {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		return fmt.Errorf("reset peak RSS of process %d: %w", pid, err)
	}
	return nil
}

// memResult is the many-sessions test's outcome.
type memResult struct {
	Before, After, Peak  int64 // bytes: VmRSS after warm-up, VmRSS after, VmHWM during
	Requests             int64
	N                    int
	CookieMin, CookieMax int
	Sample               Sample
}

// memory warms the server up with one session, then sends N distinct
// sessions (one thread, so the first N requests carry N different cookies).
func (w wrk) memory(m Memory) (memResult, error) {
	r := memResult{N: m.N}
	lines, err := os.ReadFile(m.Sessions)
	if err != nil {
		return r, fmt.Errorf("memory: %w", err)
	}
	for i, l := range strings.Split(strings.TrimSpace(string(lines)), "\n") {
		if i == 0 || len(l) < r.CookieMin {
			r.CookieMin = len(l)
		}
		r.CookieMax = max(r.CookieMax, len(l))
	}
	fmt.Fprintf(os.Stderr, "memory   %-40s warm-up with one session\n", m.Name)
	if _, err := w.run(m.Name, m.URL, m.PID, 0, m.Conns, 1, m.Duration, "headers.lua",
		"BENCH_HEADERS="+strings.Join(m.WarmHeaders, "\n")); err != nil {
		return r, err
	}
	if r.Before, err = procStatusBytes(m.PID, "VmRSS"); err != nil {
		return r, err
	}
	fmt.Fprintf(os.Stderr, "memory   %-40s %d distinct sessions\n", m.Name, m.N)
	s, err := w.run(m.Name, m.URL, m.PID, 0, m.Conns, 1, m.Duration, "sessions.lua", "BENCH_SESSIONS="+m.Sessions)
	if err != nil {
		return r, err
	}
	r.Sample, r.Requests, r.Peak = s, s.Requests, s.PeakRSS
	if r.After, err = procStatusBytes(m.PID, "VmRSS"); err != nil {
		return r, err
	}
	return r, nil
}

func numCPU() int       { return runtime.NumCPU() }
func goVersion() string { return runtime.Version() }
func mib(b int64) float64 {
	return float64(b) / (1 << 20)
}
