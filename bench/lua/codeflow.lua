-- The full code flow with a live session: GET authorize (session cookie, consent remembered) -> 302 with a
-- code -> POST token (code + PKCE verifier) -> GET userinfo with the access token. One flow = 3 requests.
--   BENCH_COOKIE        the session cookie ("tessera_session=...")
--   BENCH_AUTH          the client's Authorization header value (client_secret_basic)
--   BENCH_CLIENT_ID, BENCH_REDIRECT_URI, BENCH_SCOPE, BENCH_AUTHORIZE, BENCH_TOKEN, BENCH_USERINFO (paths)
-- Responses identify themselves (a Location with code=, a body with access_token, a userinfo body), so each
-- thread keeps a queue of next steps: a response queues the step that follows it; an idle connection starts
-- a new flow. PKCE uses one fixed verifier (its S256 challenge precomputed): the server still hashes it.
local threads = {}

function setup(thread) table.insert(threads, thread) end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  local verifier = "bench-verifier-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ"
  -- base64url(sha256(verifier)), computed by bench/run (Lua has no SHA-256)
  local challenge = os.getenv("BENCH_CHALLENGE")
  redirect_uri = os.getenv("BENCH_REDIRECT_URI")
  authorize_path = os.getenv("BENCH_AUTHORIZE") .. "?response_type=code&client_id=" .. urlencode(os.getenv("BENCH_CLIENT_ID"))
    .. "&redirect_uri=" .. urlencode(redirect_uri) .. "&scope=" .. urlencode(os.getenv("BENCH_SCOPE"))
    .. "&state=bench-state&nonce=bench-nonce&code_challenge=" .. challenge .. "&code_challenge_method=S256"
  token_path, userinfo_path = os.getenv("BENCH_TOKEN"), os.getenv("BENCH_USERINFO")
  token_suffix = "&redirect_uri=" .. urlencode(redirect_uri) .. "&code_verifier=" .. verifier
  session = { ["Cookie"] = os.getenv("BENCH_COOKIE") }
  token_headers = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = os.getenv("BENCH_AUTH") }
  queue, head, tail = {}, 1, 0
  flows, failed = 0, 0
end

local function push(step) tail = tail + 1; queue[tail] = step end

function request()
  if head <= tail then
    local s = queue[head]; queue[head] = nil; head = head + 1
    if s[1] == "token" then
      return wrk.format("POST", token_path, token_headers, "grant_type=authorization_code&code=" .. s[2] .. token_suffix)
    else
      return wrk.format("GET", userinfo_path, { ["Authorization"] = "Bearer " .. s[2] })
    end
  end
  return wrk.format("GET", authorize_path, session)
end

local function fail(status, what)
  failed = failed + 1
  if failed <= 3 then io.stderr:write("code flow step failed: " .. status .. " " .. what:sub(1, 200) .. "\n") end
end

function response(status, hdrs, body)
  if status == 302 or status == 303 then
    local loc = hdrs["Location"] or hdrs["location"] or ""
    local code = loc:match("[?&]code=([^&]+)")
    if code then push({ "token", code }) else fail(status, loc) end
  elseif status == 200 then
    local at = body:match('"access_token"%s*:%s*"([^"]+)"')
    if at then
      push({ "userinfo", at })
    elseif body:match('"sub"') then
      flows = flows + 1
    else
      fail(status, body)
    end
  else
    fail(status, body)
  end
end

function done(summary, latency, requests)
  local f, e = 0, 0
  for _, t in ipairs(threads) do f = f + t:get("flows"); e = e + t:get("failed") end
  io.write(string.format("BENCH flows=%d failed=%d\n", f, e))
end
