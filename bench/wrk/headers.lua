-- headers.lua: adds the headers in $BENCH_HEADERS ("Name: value" lines; the
-- session Cookie, X-Forwarded-* for forward-auth) to every request. The
-- request is built once per thread, so this costs wrk nothing per request.
-- With $BENCH_THINK_MS set, each connection waits that long before each
-- request (benchdrive's paced runs).
local spec = os.getenv("BENCH_HEADERS") or ""
for line in spec:gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then
    wrk.headers[name] = value
  end
end
local think = tonumber(os.getenv("BENCH_THINK_MS") or "")
if think and think > 0 then
  -- Defined only when asked for: wrk schedules every request through a timer
  -- once a script has delay().
  function delay()
    return think
  end
end
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
