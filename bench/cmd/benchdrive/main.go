// Command benchdrive runs the load harness's measurements: it drives every
// target of a spec (written by bench/run.sh) with wrk, interleaved, reads
// each server's CPU time and peak RSS from /proc around every run, and writes
// the medians, with ratios to the bare baselines of the same run, as a
// Markdown report.
//
//	benchdrive -spec spec.json
//
// It only measures processes the harness started; it never starts or stops
// servers itself (bench/run.sh owns their lifetimes).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Spec is the harness's description of one run.
type Spec struct {
	Revision string   `json:"revision"`
	Duration string   `json:"duration"` // per measured wrk run, wrk syntax (5s)
	Warmup   string   `json:"warmup"`   // per target and connection count before the rounds; "" = none
	Rounds   int      `json:"rounds"`
	Conns    []int    `json:"conns"`
	Threads  int      `json:"threads"`
	LuaDir   string   `json:"lua_dir"`
	Out      string   `json:"out"` // Markdown report
	Raw      string   `json:"raw"` // every run, tab-separated
	Groups   []Group  `json:"groups"`
	Paced    *Paced   `json:"paced"`
	Pinned   *Pinned  `json:"pinned"`
	Memory   *Memory  `json:"memory"`
	Cookie   *Cookie  `json:"cookie"`
	Skipped  []Skip   `json:"skipped"`
	Notes    []string `json:"notes"`
}

// Group is a baseline and the gatehouse modes compared with it; within a
// round they run back to back in this order.
type Group struct {
	Name     string   `json:"name"`
	Baseline Target   `json:"baseline"`
	Subjects []Target `json:"subjects"`
}

// Target is one server to drive.
type Target struct {
	Name     string   `json:"name"`
	URL      string   `json:"url"`
	PID      int      `json:"pid"`       // the server process whose CPU and RSS are measured
	PeerPID  int      `json:"peer_pid"`  // optional: a backing service also measured (redis-server)
	PeerName string   `json:"peer_name"` //
	Headers  []string `json:"headers"`   // "Name: value", added by wrk/headers.lua
	Expect   int      `json:"expect"`    // status a correct answer has (checked once before the runs)
	Goal     *Goal    `json:"goal"`      // issue 4's target for this mode, if any
}

// Goal is a target ratio to the group's baseline.
type Goal struct {
	RPSMin float64 `json:"rps_min"` // req/s ≥ RPSMin × baseline
	P99Max float64 `json:"p99_max"` // p99 ≤ P99Max × baseline (0 = no goal)
}

// Paced drives one group once more with a think time between a connection's
// requests, so that every target carries about the same request rate. wrk
// keeps every connection busy, so in the main runs a faster server also takes
// more of the cores that wrk and the upstream need; at equal load the p99
// compares the servers' own latency. Informative: no target is judged on it.
type Paced struct {
	Group   string `json:"group"` // a group's Name
	Conns   int    `json:"conns"`
	ThinkMS int    `json:"think_ms"` // wrk's delay() before each request, per connection
}

// Pinned drives a group of its own once more, with the server under test on
// cores of its own: the harness starts these targets (and their upstream)
// pinned with taskset, and wrk runs pinned to ClientCPUs. In the main runs
// wrk, the upstream and the server share every core, so a server's req/s
// and p99 there also depend on how much CPU it leaves the others; here the
// server's own cost per request decides both. Informative: no target is
// judged on it.
type Pinned struct {
	Group      Group  `json:"group"`
	Conns      int    `json:"conns"`
	Threads    int    `json:"threads"`     // wrk threads
	ServerCPUs string `json:"server_cpus"` // taskset list the targets run on (for the report)
	ClientCPUs string `json:"client_cpus"` // taskset list for wrk (and the upstream)
}

// Memory is the many-sessions test: RSS before and after N distinct sessions.
type Memory struct {
	Name        string   `json:"name"`
	URL         string   `json:"url"`
	PID         int      `json:"pid"`
	WarmHeaders []string `json:"warm_headers"` // one session, for the warm-up
	Sessions    string   `json:"sessions"`     // file of Cookie header values
	N           int      `json:"n"`
	Duration    string   `json:"duration"`
	Conns       int      `json:"conns"`
	MaxGrowth   float64  `json:"max_growth_mib"`
}

// Cookie is the session cookie the harness's own login received.
type Cookie struct {
	What   string `json:"what"`
	Bytes  int    `json:"bytes"` // name=value, summed over cookies
	Count  int    `json:"count"`
	Budget int    `json:"budget"`
}

// Skip is a mode the harness cannot measure yet, reported as such.
type Skip struct {
	Name string `json:"name"`
	Note string `json:"note"`
}

func main() {
	specPath := flag.String("spec", "", "spec file written by bench/run.sh")
	flag.Parse()
	if *specPath == "" {
		flag.Usage()
		os.Exit(2)
	}
	// On SIGINT/SIGTERM the running wrk is killed with us, not left behind.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *specPath, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchdrive:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, specPath string, stdout io.Writer) error {
	b, err := os.ReadFile(specPath)
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	var spec Spec
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return fmt.Errorf("parse spec: %w", err)
	}
	if spec.Rounds < 1 || len(spec.Conns) == 0 || spec.Threads < 1 {
		return errors.New("spec: rounds, conns and threads are required")
	}
	// Everything the harness started descends from our parent (bench/run.sh);
	// CPU used by any other process during a run is background load.
	w := wrk{ctx: ctx, luaDir: spec.LuaDir, threads: spec.Threads, root: os.Getppid()}
	groups := spec.Groups
	if spec.Pinned != nil {
		groups = append(slices.Clone(groups), spec.Pinned.Group)
	}
	for _, g := range groups {
		for _, t := range append([]Target{g.Baseline}, g.Subjects...) {
			if err := precheck(t); err != nil {
				return err
			}
		}
	}
	res := results{}
	raw := &strings.Builder{}
	fmt.Fprintln(raw, "group\ttarget\tconns\tround\trequests\trps\tp50_us\tp99_us\tcpu_us_per_req\tpeer_cpu_us_per_req\tpeak_rss_bytes\tstatus_errors\tsocket_errors\tbackground_cores")
	start := time.Now()
	for _, conns := range spec.Conns {
		for gi, g := range spec.Groups {
			targets := append([]Target{g.Baseline}, g.Subjects...)
			if spec.Warmup != "" {
				for _, t := range targets {
					fmt.Fprintf(os.Stderr, "warm-up  %-40s c=%d\n", t.Name, conns)
					if _, err := w.measure(t, conns, spec.Warmup); err != nil {
						return err
					}
				}
			}
			for round := range spec.Rounds {
				for ti, t := range targets {
					s, err := w.measure(t, conns, spec.Duration)
					if err != nil {
						return err
					}
					fmt.Fprintf(os.Stderr, "round %d  %-40s c=%-3d %9.0f req/s  p50 %7.0f µs  p99 %7.0f µs  cpu %5.1f µs/req  rss %5.1f MiB  bg %.2f cores%s\n",
						round+1, t.Name, conns, s.RPS, s.P50, s.P99, s.CPUPerReq, mib(s.PeakRSS), s.Background, s.warning())
					writeRaw(raw, g.Name, t.Name, conns, round+1, s)
					k := key{gi, ti, conns}
					res[k] = append(res[k], s)
				}
			}
		}
	}
	paced, err := w.paced(spec, raw)
	if err != nil {
		return err
	}
	pinned, err := w.pinned(spec, raw)
	if err != nil {
		return err
	}
	var mem *memResult
	if spec.Memory != nil {
		m, err := w.memory(*spec.Memory)
		if err != nil {
			return err
		}
		mem = &m
	}
	report := render(spec, res, paced, pinned, mem, machine(spec.Revision), time.Since(start))
	fmt.Fprint(stdout, report)
	if spec.Out != "" {
		if err := os.WriteFile(spec.Out, []byte(report), 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	if spec.Raw != "" {
		if err := os.WriteFile(spec.Raw, []byte(raw.String()), 0o644); err != nil {
			return fmt.Errorf("write raw results: %w", err)
		}
	}
	return nil
}

// writeRaw adds one run to the tab-separated record.
func writeRaw(raw io.Writer, group, target string, conns, round int, s Sample) {
	fmt.Fprintf(raw, "%s\t%s\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.2f\t%.2f\t%d\t%d\t%d\t%.3f\n",
		group, target, conns, round, s.Requests, s.RPS, s.P50, s.P99, s.CPUPerReq, s.PeerCPUPerReq, s.PeakRSS, s.StatusErrors, s.SocketErrors, s.Background)
}

// paced runs spec.Paced, if any: its group's targets interleaved over the
// rounds as in the main runs. Results are keyed by target index in the
// group, with the group's index and the connection count.
func (w wrk) paced(spec Spec, raw io.Writer) (results, error) {
	p := spec.Paced
	if p == nil {
		return nil, nil
	}
	gi := slices.IndexFunc(spec.Groups, func(g Group) bool { return g.Name == p.Group })
	if gi < 0 || p.Conns < 1 || p.ThinkMS < 1 {
		return nil, fmt.Errorf("spec: paced needs a group of the spec (got %q), conns and think_ms", p.Group)
	}
	g := spec.Groups[gi]
	name := fmt.Sprintf("%s, paced %d ms", g.Name, p.ThinkMS)
	res := results{}
	for round := range spec.Rounds {
		for ti, t := range append([]Target{g.Baseline}, g.Subjects...) {
			s, err := w.measure(t, p.Conns, spec.Duration, "BENCH_THINK_MS="+strconv.Itoa(p.ThinkMS))
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(os.Stderr, "paced %d  %-40s c=%-3d %9.0f req/s  p50 %7.0f µs  p99 %7.0f µs  cpu %5.1f µs/req%s\n",
				round+1, t.Name, p.Conns, s.RPS, s.P50, s.P99, s.CPUPerReq, s.warning())
			writeRaw(raw, name, t.Name, p.Conns, round+1, s)
			k := key{gi, ti, p.Conns}
			res[k] = append(res[k], s)
		}
	}
	return res, nil
}

// pinned runs spec.Pinned, if any: its group interleaved over the rounds,
// wrk pinned to the client CPUs. Results are keyed as group 0.
func (w wrk) pinned(spec Spec, raw io.Writer) (results, error) {
	p := spec.Pinned
	if p == nil {
		return nil, nil
	}
	if p.Conns < 1 || p.Threads < 1 || p.ClientCPUs == "" || p.ServerCPUs == "" {
		return nil, errors.New("spec: pinned needs conns, threads, server_cpus and client_cpus")
	}
	w.threads = p.Threads
	w.prefix = []string{"taskset", "-c", p.ClientCPUs}
	name := fmt.Sprintf("%s, server on CPU %s", p.Group.Name, p.ServerCPUs)
	res := results{}
	for round := range spec.Rounds {
		for ti, t := range append([]Target{p.Group.Baseline}, p.Group.Subjects...) {
			s, err := w.measure(t, p.Conns, spec.Duration)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(os.Stderr, "pinned %d %-40s c=%-3d %9.0f req/s  p50 %7.0f µs  p99 %7.0f µs  cpu %5.1f µs/req%s\n",
				round+1, t.Name, p.Conns, s.RPS, s.P50, s.P99, s.CPUPerReq, s.warning())
			writeRaw(raw, name, t.Name, p.Conns, round+1, s)
			k := key{0, ti, p.Conns}
			res[k] = append(res[k], s)
		}
	}
	return res, nil
}

// precheck makes one request as wrk will and insists on the expected status,
// so a misconfigured target (an expired cookie answering 302, say) fails the
// harness instead of being measured as fast.
func precheck(t Target) error {
	req, err := http.NewRequest(http.MethodGet, t.URL, nil)
	if err != nil {
		return fmt.Errorf("precheck %s: %w", t.Name, err)
	}
	for _, h := range t.Headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return fmt.Errorf("precheck %s: header %q is not Name: value", t.Name, h)
		}
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	c := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("precheck %s: %w", t.Name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != t.Expect {
		return fmt.Errorf("precheck %s: GET %s answered %d, want %d", t.Name, t.URL, resp.StatusCode, t.Expect)
	}
	return nil
}

// machine describes where the run happened, for the report's header.
func machine(revision string) string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	wrkVersion := "?"
	if out, err := exec.Command("wrk", "-v").CombinedOutput(); err == nil || len(out) > 0 {
		if f := strings.Fields(string(out)); len(f) > 1 {
			wrkVersion = f[1]
		}
	}
	return fmt.Sprintf("%s, %d CPUs online, Linux %s, %s, wrk %s, gatehouse %s",
		model, numCPU(), kernel, goVersion(), wrkVersion, revision)
}
