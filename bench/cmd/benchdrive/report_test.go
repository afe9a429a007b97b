package main

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    Sample
		wantErr bool
	}{
		{
			name: "result line among wrk's own output",
			out: "Running 5s test @ http://127.0.0.1:1/\n  2 threads and 16 connections\n" +
				"BENCH_RESULT requests=50000 duration_us=5000000 p50_us=812.5 p99_us=4100.0 status_errors=3 socket_errors=1\n" +
				"Requests/sec:  10000.00\n",
			want: Sample{Requests: 50000, RPS: 10000, P50: 812.5, P99: 4100, StatusErrors: 3, SocketErrors: 1},
		},
		{name: "no result line", out: "Running 5s test\n", wantErr: true},
		{name: "malformed result line", out: "BENCH_RESULT requests=x\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMedianAndRatio(t *testing.T) {
	s := func(rps ...float64) []Sample {
		out := make([]Sample, len(rps))
		for i, r := range rps {
			out[i] = Sample{RPS: r}
		}
		return out
	}
	tests := []struct {
		name       string
		subj, base []Sample
		wantMedian float64
		wantRatio  float64
	}{
		{name: "odd rounds", subj: s(9, 5, 7), base: s(10, 10, 10), wantMedian: 7, wantRatio: 0.7},
		{name: "even rounds average the middle two", subj: s(4, 8, 6, 2), base: s(8, 8, 8, 8), wantMedian: 5, wantRatio: 0.625},
		{name: "ratio pairs rounds, not medians", subj: s(5, 10, 20), base: s(10, 10, 40), wantMedian: 10, wantRatio: 0.5},
		{name: "zero baseline round is skipped", subj: s(5, 6), base: s(0, 12), wantMedian: 5.5, wantRatio: 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := medianOf(tt.subj, rps); got != tt.wantMedian {
				t.Errorf("median = %v, want %v", got, tt.wantMedian)
			}
			if got := ratio(tt.subj, tt.base, rps); math.Abs(got-tt.wantRatio) > 1e-9 {
				t.Errorf("ratio = %v, want %v", got, tt.wantRatio)
			}
		})
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"thousands small", thousands(999), "999"},
		{"thousands", thousands(1234567.4), "1,234,567"},
		{"thousands exact group", thousands(100000), "100,000"},
		{"microseconds", dur(812.4), "812 µs"},
		{"milliseconds", dur(4100), "4.10 ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

// TestProcReaders reads this test process's own /proc entries.
func TestProcReaders(t *testing.T) {
	pid := os.Getpid()
	if _, err := cpuTicks(pid); err != nil {
		t.Errorf("cpuTicks: %v", err)
	}
	rss, err := procStatusBytes(pid, "VmRSS")
	if err != nil || rss <= 0 {
		t.Errorf("VmRSS = %d, %v", rss, err)
	}
	if _, err := procStatusBytes(pid, "NoSuchField"); err == nil {
		t.Error("missing field: want an error")
	}
	if err := resetPeak(pid); err != nil {
		t.Errorf("resetPeak: %v", err)
	}
	if _, err := systemBusyTicks(); err != nil {
		t.Errorf("systemBusyTicks: %v", err)
	}
}

// TestRenderPaced checks that the paced section pairs each target with the
// group's baseline and names the pacing, and that it is absent without runs.
func TestRenderPaced(t *testing.T) {
	spec := Spec{
		Groups: []Group{
			{Name: "own answers", Baseline: Target{Name: "bare 202"}},
			{Name: "proxying", Baseline: Target{Name: "bare proxy"}, Subjects: []Target{{Name: "gatehouse proxy"}}},
		},
		Paced: &Paced{Group: "proxying", Conns: 16, ThinkMS: 1},
	}
	paced := results{
		{1, 0, 16}: {{RPS: 8000, P50: 600, P99: 2000}, {RPS: 8000, P50: 600, P99: 2500}},
		{1, 1, 16}: {{RPS: 7900, P50: 650, P99: 2200}, {RPS: 8100, P50: 650, P99: 2500}},
	}
	got := render(spec, results{}, paced, nil, nil, "host", time.Second)
	for _, want := range []string{
		"## Latency at equal load (proxying, 16 connections, 1 ms think time)",
		"| *bare proxy* | 8,000 | 1 | 600 µs | 2.25 ms | 1 |",
		"| gatehouse proxy | 8,000 | 1.00 | 650 µs | 2.35 ms | **1.05** |", // p99 ratios 1.1 and 1.0
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "bare 202") {
		t.Errorf("the paced section reports a group that was not paced:\n%s", got)
	}
	if got := render(spec, results{}, nil, nil, nil, "host", time.Second); strings.Contains(got, "equal load") {
		t.Errorf("no paced runs, yet a paced section:\n%s", got)
	}
}

// TestRenderPinned checks the pinned section: its own group, CPU ratios to
// its own baseline, and the CPUs named; absent without runs.
func TestRenderPinned(t *testing.T) {
	spec := Spec{
		Groups: []Group{{Name: "proxying", Baseline: Target{Name: "bare proxy"}}},
		Pinned: &Pinned{
			Group: Group{Name: "proxying", Baseline: Target{Name: "bare proxy (pinned)"}, Subjects: []Target{{Name: "gatehouse (pinned)"}}},
			Conns: 16, Threads: 1, ServerCPUs: "1", ClientCPUs: "0",
		},
	}
	pinned := results{
		{0, 0, 16}: {{RPS: 20000, P50: 600, P99: 1500, CPUPerReq: 50}},
		{0, 1, 16}: {{RPS: 18000, P50: 700, P99: 1800, CPUPerReq: 55}},
	}
	got := render(spec, results{}, nil, pinned, nil, "host", time.Second)
	for _, want := range []string{
		"## Server on its own core (proxying, 16 connections, server on CPU 1, wrk and upstream on CPU 0)",
		"| *bare proxy (pinned)* | 20,000 | 1 | 600 µs | 1.50 ms | 1 | 50.0 µs | 1 |",
		"| gatehouse (pinned) | 18,000 | 0.90 | 700 µs | 1.80 ms | **1.20** | 55.0 µs | 1.10 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if got := render(spec, results{}, nil, nil, nil, "host", time.Second); strings.Contains(got, "own core") {
		t.Errorf("no pinned runs, yet a pinned section:\n%s", got)
	}
}
