-- A logout: POST /logout on a signed-in session, each cookie used once (the sign-in round's
-- harvest); should the pool run dry, cookies are reused (counted in "reused").
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

local next_cookie = 0

function request()
  next_cookie = next_cookie + 1
  if next_cookie > #pool then
    reused = reused + 1
  end
  return wrk.format("POST", "/logout", with_cookie(pool[(next_cookie - 1) % #pool + 1]))
end
