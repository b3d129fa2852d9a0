-- wrk limits only time; this bounds the request count too: `wrk ... -s wrk_cap.lua URL <cap>`.
-- The request is formatted once, so the per-request cost is one counter update.
local cap, sent, req = 0, 0, nil

function init(args)
  cap = tonumber(args[1]) or 5000000
  req = wrk.format()
end

function request()
  sent = sent + 1
  if sent > cap then
    wrk.thread:stop()
  end
  return req
end
