-- A fixed form POST, the same on every request (client_credentials, introspection, login).
--   BENCH_BODY   the urlencoded body
--   BENCH_AUTH   the Authorization header value (optional)
--   BENCH_COOKIE the Cookie header value (optional)
-- No response() hook, so wrk does not hand bodies to Lua; failures show as "Non-2xx or 3xx responses".
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or ""
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end
local cookie = os.getenv("BENCH_COOKIE")
if cookie and cookie ~= "" then wrk.headers["Cookie"] = cookie end
