-- Refresh-token rotation: every request presents the refresh token returned by an earlier response.
--   BENCH_TOKENS   a file with one refresh token per line (one chain each; spares allowed)
--   BENCH_THREADS  wrk's -t (tokens are dealt to threads round-robin)
--   BENCH_AUTH     the client's Authorization header value
-- wrk gives Lua no connection identity, so each thread keeps a queue of live tokens: request() takes one,
-- response() puts the successor back. wrk builds a connection's next request only after its response was
-- processed, so with at least as many tokens as connections no token is ever presented twice.
local threads, counter = {}, 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local n = tonumber(os.getenv("BENCH_THREADS") or "1")
  queue, head, tail = {}, 1, 0
  local i = 0
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if line ~= "" then
      if i % n == id then tail = tail + 1; queue[tail] = line end
      i = i + 1
    end
  end
  ok, failed, starved = 0, 0, 0
  headers = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = os.getenv("BENCH_AUTH") }
end

function request()
  local t = "starved"
  if head <= tail then
    t = queue[head]; queue[head] = nil; head = head + 1
  else
    starved = starved + 1
  end
  return wrk.format("POST", nil, headers, "grant_type=refresh_token&refresh_token=" .. t)
end

function response(status, hdrs, body)
  if status == 200 then
    local t = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if t then
      tail = tail + 1; queue[tail] = t; ok = ok + 1
      return
    end
  end
  failed = failed + 1
  if failed <= 3 then io.stderr:write("refresh failed: " .. status .. " " .. body:sub(1, 200) .. "\n") end
end

function done(summary, latency, requests)
  local o, f, s = 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); f = f + t:get("failed"); s = s + t:get("starved")
  end
  io.write(string.format("BENCH ok=%d failed=%d starved=%d\n", o, f, s))
end
