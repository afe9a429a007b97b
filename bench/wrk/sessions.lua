-- sessions.lua: sends a different session cookie with each request, cycling
-- through the lines of $BENCH_SESSIONS (Cookie header values written by
-- bench/cmd/mintsessions). Thread k of n starts at line k and steps by n, so
-- with one thread the first N requests carry N distinct sessions.
local cookies = {}
for line in io.lines(os.getenv("BENCH_SESSIONS")) do
  if line ~= "" then
    cookies[#cookies + 1] = line
  end
end
if #cookies == 0 then
  error("sessions.lua: no cookies in " .. os.getenv("BENCH_SESSIONS"))
end

local threads = 0
function setup(thread)
  thread:set("first", threads)
  threads = threads + 1
end

local i, stride = 0, 1
function init(args)
  i = first or 0 -- set by setup() in this thread's environment
  stride = tonumber(os.getenv("BENCH_THREADS") or "1")
end

function request()
  local c = cookies[i % #cookies + 1]
  i = i + stride
  return wrk.format(nil, nil, { ["Cookie"] = c })
end
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
