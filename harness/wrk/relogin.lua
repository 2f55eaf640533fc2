-- A re-login: POST /login again on a signed-in session, which cycles its key; the new cookie
-- goes back into the pool. A request that never got its answer (a timeout) took its cookie with
-- it: should the pool run dry, the last cookie is used again (counted in "reused").
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local body = '{"userId": "bench", "userNm": "Bench User"}'
local last

function request()
  local cookie = table.remove(pool, 1)
  if cookie then
    last = cookie
  else
    cookie, reused = last, reused + 1
  end
  return wrk.format("POST", "/login", with_cookie(cookie, json_headers), body)
end

function response(status, headers, body)
  local cookie = session_cookie(headers)
  if cookie then
    table.insert(pool, cookie)
  end
end
