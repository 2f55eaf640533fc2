-- A read: GET /session with a signed-in session's cookie (the thread's pool, in turn).
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local next_cookie = 0

function request()
  next_cookie = next_cookie % #pool + 1
  return wrk.format("GET", "/session", with_cookie(pool[next_cookie]))
end
