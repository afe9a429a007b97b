package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// key names the samples of one target of one group at one connection count.
type key struct{ group, target, conns int }

type results map[key][]Sample

// median of xs (NaN for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianOf(ss []Sample, f func(Sample) float64) float64 {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = f(s)
	}
	return median(xs)
}

// ratio is the median over rounds of subject/baseline, each round's subject
// against the baseline measured just before it in the same round.
func ratio(subj, base []Sample, f func(Sample) float64) float64 {
	var xs []float64
	for i := range min(len(subj), len(base)) {
		if b := f(base[i]); b > 0 {
			xs = append(xs, f(subj[i])/b)
		}
	}
	return median(xs)
}

var (
	rps     = func(s Sample) float64 { return s.RPS }
	p50     = func(s Sample) float64 { return s.P50 }
	p99     = func(s Sample) float64 { return s.P99 }
	cpu     = func(s Sample) float64 { return s.CPUPerReq }
	peerCPU = func(s Sample) float64 { return s.PeerCPUPerReq }
	rss     = func(s Sample) float64 { return float64(s.PeakRSS) }
	bgLoad  = func(s Sample) float64 { return s.Background }
)

func render(spec Spec, res, paced, pinned results, mem *memResult, host string, took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# gatehouse load harness results\n\n")
	fmt.Fprintf(&b, "%s — %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), host)
	fmt.Fprintf(&b, "wrk, %d thread(s), %s per run, %d round(s), %s warm-up per target; all on 127.0.0.1, "+
		"wrk, the upstream and the server under test sharing the same cores. In each round a group's baseline "+
		"and its gatehouse modes run back to back (A, B, C, A, B, C …). Values are medians over rounds; "+
		"**× bare** is the median of the per-round ratio to the baseline measured just before. "+
		"CPU/req is the server process's user+system time over the run divided by requests; peak RSS is "+
		"its VmHWM during the run (reset before each run). *Other load* is the CPU (in cores) that processes "+
		"outside the harness used during the run: well above 0, another workload shared the machine and "+
		"the absolute numbers (less so the ratios) suffer. Measured in %s.\n",
		spec.Threads, spec.Duration, spec.Rounds, orNone(spec.Warmup), took.Round(time.Second))
	for _, conns := range spec.Conns {
		fmt.Fprintf(&b, "\n## %d connections\n\n", conns)
		fmt.Fprintln(&b, "| mode | req/s | × bare | p50 | p99 | p99 × bare | CPU/req | CPU × bare | peak RSS | other load | notes |")
		fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
		for gi, g := range spec.Groups {
			base := res[key{gi, 0, conns}]
			for ti, t := range append([]Target{g.Baseline}, g.Subjects...) {
				ss := res[key{gi, ti, conns}]
				if len(ss) == 0 {
					continue
				}
				name, rr, pr, cr := t.Name, "1", "1", "1"
				if ti > 0 {
					rr = fmt.Sprintf("**%.2f**", ratio(ss, base, rps))
					pr = fmt.Sprintf("%.2f", ratio(ss, base, p99))
					cr = fmt.Sprintf("%.2f", ratio(ss, base, cpu))
				} else {
					name = "*" + name + "*"
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %.1f MiB | %.2f | %s |\n",
					name, thousands(medianOf(ss, rps)), rr, dur(medianOf(ss, p50)), dur(medianOf(ss, p99)), pr,
					fmt.Sprintf("%.1f µs", medianOf(ss, cpu)), cr, medianOf(ss, rss)/(1<<20), medianOf(ss, bgLoad), notes(t, ss))
			}
		}
	}
	renderGoals(&b, spec, res)
	renderPaced(&b, spec, paced)
	renderPinned(&b, spec, pinned)
	renderSizes(&b, spec, mem)
	if len(spec.Skipped) > 0 {
		fmt.Fprintf(&b, "\n## Not measured\n\n")
		for _, s := range spec.Skipped {
			fmt.Fprintf(&b, "- **%s**: %s\n", s.Name, s.Note)
		}
	}
	if len(spec.Notes) > 0 {
		fmt.Fprintf(&b, "\n## Notes\n\n")
		for _, n := range spec.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

func notes(t Target, ss []Sample) string {
	var n []string
	if t.PeerPID > 0 {
		n = append(n, fmt.Sprintf("+ %.1f µs/req in %s", medianOf(ss, peerCPU), t.PeerName))
	}
	var st, so int64
	for _, s := range ss {
		st += s.StatusErrors
		so += s.SocketErrors
	}
	if st+so > 0 {
		n = append(n, fmt.Sprintf("**%d error statuses, %d socket errors**", st, so))
	}
	return strings.Join(n, "; ")
}

// renderPaced reports the paced runs: each target's latency at about the same
// request rate as its baseline's.
func renderPaced(b *strings.Builder, spec Spec, res results) {
	p := spec.Paced
	if p == nil || len(res) == 0 {
		return
	}
	gi := slices.IndexFunc(spec.Groups, func(g Group) bool { return g.Name == p.Group })
	g := spec.Groups[gi]
	fmt.Fprintf(b, "\n## Latency at equal load (%s, %d connections, %d ms think time)\n\n", g.Name, p.Conns, p.ThinkMS)
	fmt.Fprintf(b, "Each connection waits %d ms (wrk's `delay()`) before each request, so every target serves about the "+
		"same request rate (see × bare) and leaves the same CPU to wrk and the upstream. The runs above keep every "+
		"connection busy instead, so there a faster server also takes more of the cores that wrk and the upstream need, "+
		"and its p99 is partly theirs. Not one of issue 4's targets; it shows what the p99 ratio above is made of.\n\n", p.ThinkMS)
	renderSideTable(b, g, res, gi, p.Conns)
}

// renderPinned reports the runs with the server on cores of its own.
func renderPinned(b *strings.Builder, spec Spec, res results) {
	p := spec.Pinned
	if p == nil || len(res) == 0 {
		return
	}
	fmt.Fprintf(b, "\n## Server on its own core (%s, %d connections, server on CPU %s, wrk and upstream on CPU %s)\n\n",
		p.Group.Name, p.Conns, p.ServerCPUs, p.ClientCPUs)
	fmt.Fprintf(b, "The same servers, started again with taskset: each server under test alone on CPU %s, wrk (%d thread(s)) "+
		"and the upstream on CPU %s. No server can take CPU from wrk or the upstream here, so while the server's core is "+
		"the busy one, req/s and p99 follow the server's own CPU per request. Not one of issue 4's targets; it shows gatehouse's "+
		"own cost per request against the bare proxy's.\n\n", p.ServerCPUs, p.Threads, p.ClientCPUs)
	renderSideTable(b, p.Group, res, 0, p.Conns)
}

// renderSideTable is the table of the paced and pinned sections: one row per
// target of g, with ratios to g's baseline.
func renderSideTable(b *strings.Builder, g Group, res results, gi, conns int) {
	fmt.Fprintln(b, "| mode | req/s | × bare | p50 | p99 | p99 × bare | CPU/req | CPU × bare |")
	fmt.Fprintln(b, "|---|---:|---:|---:|---:|---:|---:|---:|")
	base := res[key{gi, 0, conns}]
	for ti, t := range append([]Target{g.Baseline}, g.Subjects...) {
		ss := res[key{gi, ti, conns}]
		if len(ss) == 0 {
			continue
		}
		name, rr, pr, cr := t.Name, "1", "1", "1"
		if ti > 0 {
			rr = fmt.Sprintf("%.2f", ratio(ss, base, rps))
			pr = fmt.Sprintf("**%.2f**", ratio(ss, base, p99))
			cr = fmt.Sprintf("%.2f", ratio(ss, base, cpu))
		} else {
			name = "*" + name + "*"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %.1f µs | %s |\n",
			name, thousands(medianOf(ss, rps)), rr, dur(medianOf(ss, p50)), dur(medianOf(ss, p99)), pr, medianOf(ss, cpu), cr)
	}
}

// renderGoals compares the medians with issue 4's targets.
func renderGoals(b *strings.Builder, spec Spec, res results) {
	var rows []string
	for _, conns := range spec.Conns {
		for gi, g := range spec.Groups {
			base := res[key{gi, 0, conns}]
			for ti, t := range g.Subjects {
				ss := res[key{gi, ti + 1, conns}]
				if t.Goal == nil || len(ss) == 0 {
					continue
				}
				r := ratio(ss, base, rps)
				rows = append(rows, fmt.Sprintf("| %s, %d conns: req/s ≥ %.2f× %s | %.2f× | %s |",
					t.Name, conns, t.Goal.RPSMin, g.Baseline.Name, r, met(r >= t.Goal.RPSMin)))
				if t.Goal.P99Max > 0 {
					p := ratio(ss, base, p99)
					rows = append(rows, fmt.Sprintf("| %s, %d conns: p99 ≤ %.2f× %s | %.2f× | %s |",
						t.Name, conns, t.Goal.P99Max, g.Baseline.Name, p, met(p <= t.Goal.P99Max)))
				}
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "\n## Against issue 4's targets\n\n| target | measured | met |\n|---|---:|---|\n")
	for _, r := range rows {
		fmt.Fprintln(b, r)
	}
}

func renderSizes(b *strings.Builder, spec Spec, mem *memResult) {
	if spec.Cookie == nil && mem == nil {
		return
	}
	fmt.Fprintf(b, "\n## Session size and memory\n\n")
	if c := spec.Cookie; c != nil {
		fmt.Fprintf(b, "- Session cookie (%s): **%d bytes** as name=value in %d cookie(s); target ≤ %d bytes in one cookie: %s.\n",
			c.What, c.Bytes, c.Count, c.Budget, met(c.Bytes <= c.Budget && c.Count == 1))
	}
	if m := mem; m != nil {
		growth := mib(m.After - m.Before)
		fmt.Fprintf(b, "- %s: %s distinct sessions (minted cookies of %d–%d bytes), %d connections, one wrk thread, %s: "+
			"%s requests (%.1f per session; %s). RSS %.1f MiB after a warm-up with one session → **%.1f MiB** after "+
			"(**%+.1f MiB**), peak %.1f MiB; target growth < %.0f MiB: %s.\n",
			spec.Memory.Name, thousands(float64(m.N)), m.CookieMin, m.CookieMax, spec.Memory.Conns, spec.Memory.Duration,
			thousands(float64(m.Requests)), float64(m.Requests)/float64(m.N), coverage(m),
			mib(m.Before), mib(m.After), growth, mib(m.Peak), spec.Memory.MaxGrowth, met(growth < spec.Memory.MaxGrowth))
		if w := m.Sample.warning(); w != "" {
			fmt.Fprintf(b, "  **%s**\n", strings.TrimSpace(w))
		}
	}
}

func coverage(m *memResult) string {
	if m.Requests >= int64(m.N) {
		return "every session was sent"
	}
	return fmt.Sprintf("**only %d of the sessions were sent: lengthen the run**", m.Requests)
}

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func orNone(s string) string {
	if s == "" {
		return "no"
	}
	return s
}

// dur formats microseconds.
func dur(us float64) string {
	if us < 1000 {
		return fmt.Sprintf("%.0f µs", us)
	}
	return fmt.Sprintf("%.2f ms", us/1000)
}

// thousands formats a non-negative number rounded to an integer with commas.
func thousands(x float64) string {
	s := fmt.Sprintf("%.0f", x)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
