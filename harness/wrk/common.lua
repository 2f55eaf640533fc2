-- Shared by the request scripts (wrk -s harness/wrk/<type>.lua URL -- COOKIES HARVEST THREADS):
-- each thread's own pool of session cookies read from COOKIES (every THREADS-th line), the
-- cookies a response sets appended to HARVEST, and one JSON line from done() for harness.bench.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

json_headers = { ["Content-Type"] = "application/json" }
pool = {}          -- this thread's session cookies
reused = 0         -- logout only: requests that found the pool empty and reused a cookie

function read_args(args)
  local cookies, harvest, count = args[1], args[2], tonumber(args[3] or "1")
  if cookies and cookies ~= "-" then
    local line_number = 0
    for line in io.lines(cookies) do
      if line_number % count == id - 1 then
        table.insert(pool, line)
      end
      line_number = line_number + 1
    end
  end
  if harvest and harvest ~= "-" then
    harvest_file = io.open(harvest .. "." .. id, "w")
    harvest_file:setvbuf("line")
  end
end

function init(args)
  read_args(args)
end

function session_cookie(headers)
  local set_cookie = headers["Set-Cookie"] or headers["set-cookie"]
  return set_cookie and set_cookie:match("sessionid=([^;]+)")
end

function with_cookie(cookie, extra)
  local headers = { Cookie = "sessionid=" .. cookie }
  for name, value in pairs(extra or {}) do
    headers[name] = value
  end
  return headers
end

function done(summary, latency, requests)
  local total_reused = 0
  for _, thread in ipairs(threads) do
    total_reused = total_reused + (thread:get("reused") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "socket_errors": %d, "non_2xx": %d, '
      .. '"p50_us": %d, "p99_us": %d, "reused": %d}\n',
    summary.requests, summary.duration,
    errors.connect + errors.read + errors.write + errors.timeout, errors.status,
    latency:percentile(50), latency:percentile(99), total_reused
  ))
end
