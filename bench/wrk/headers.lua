-- headers.lua: adds the headers in $BENCH_HEADERS ("Name: value" lines; the
-- session Cookie, X-Forwarded-* for forward-auth) to every request. The
-- request is built once per thread, so this costs wrk nothing per request.
local spec = os.getenv("BENCH_HEADERS") or ""
for line in spec:gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then
    wrk.headers[name] = value
  end
end
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
