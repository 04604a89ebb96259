-- POST /api/auth/login, cycling over bench-e-1..BENCH_USERS@bench.test.
local n = 0
local users = tonumber(os.getenv("BENCH_USERS") or "64")
local password = os.getenv("BENCH_PASSWORD")
request = function()
  n = n % users + 1
  local body = string.format('{"email":"bench-e-%d@bench.test","password":"%s"}', n, password)
  return wrk.format("POST", "/api/auth/login", { ["Content-Type"] = "application/json" }, body)
end
