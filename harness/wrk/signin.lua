-- A new visitor's sign-in: POST /login without a cookie; the new session's cookie is harvested.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local body = '{"userId": "bench", "userNm": "Bench User"}'

function request()
  return wrk.format("POST", "/login", json_headers, body)
end

function response(status, headers, body)
  local cookie = session_cookie(headers)
  if cookie and harvest_file then
    harvest_file:write(cookie, "\n")
  end
end
