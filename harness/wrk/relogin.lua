-- A re-login: POST /login again on a signed-in session, which cycles its key; the new cookie
-- goes back into the pool (each in-flight request took one out, so the pool never runs dry).
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local body = '{"userId": "bench", "userNm": "Bench User"}'

function request()
  local cookie = table.remove(pool, 1)
  return wrk.format("POST", "/login", with_cookie(cookie, json_headers), body)
end

function response(status, headers, body)
  local cookie = session_cookie(headers)
  if cookie then
    table.insert(pool, cookie)
  end
end
