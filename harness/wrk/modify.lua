-- A modify: POST /prefs (one preference set) on a signed-in session (the pool, in turn).
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local next_cookie, n = 0, 0

function request()
  next_cookie = next_cookie % #pool + 1
  n = n + 1
  local body = string.format('{"name": "theme", "value": "t%d"}', n)
  return wrk.format("POST", "/prefs", with_cookie(pool[next_cookie], json_headers), body)
end
