-- report.lua: the done() hook shared by the harness's wrk scripts. It prints
-- one machine-readable line that bench/cmd/benchdrive parses (latencies in
-- microseconds, exact, rather than wrk's rounded human-readable table).
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d p50_us=%.1f p99_us=%.1f status_errors=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
