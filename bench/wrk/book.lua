-- 64 connections race over the slots of bench/.work/slots.txt ("practitionerId scheduledAt" lines):
-- every thread walks the list in the same order and sends RACERS attempts per slot, each with a
-- different employee's token, so every slot is contested by 2 × RACERS bookings.
local slots, tokens = {}, {}
for line in io.lines(os.getenv("BENCH_SLOTS")) do
  local practitioner, at = line:match("(%S+) (%S+)")
  slots[#slots + 1] = { practitioner, at }
end
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local racers = tonumber(os.getenv("RACERS") or "4")
local i = 0
created, conflicts, other = 0, 0, 0 -- globals: done() reads them with thread:get
local threads = {}

setup = function(thread) threads[#threads + 1] = thread end

started, finished = 0, 0 -- globals: wall-clock seconds of this thread's race (done() reads them)
local clock = function() local f = io.popen("date +%s.%N"); local t = tonumber(f:read("*l")); f:close(); return t end

request = function()
  if started == 0 then started = clock() end
  i = i + 1
  local slot = slots[math.floor((i - 1) / racers) + 1]
  if slot == nil then slot = slots[#slots] end
  local token = tokens[(i - 1) % #tokens + 1]
  local body = string.format('{"practitionerId":"%s","scheduledAt":"%s","format":"VIDEO"}', slot[1], slot[2])
  return wrk.format("POST", "/api/consultations",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, body)
end

response = function(status)
  if status == 201 then created = created + 1
  elseif status == 409 then conflicts = conflicts + 1
  else other = other + 1 end
  if i >= #slots * racers and finished == 0 then
    finished = clock()
    wrk.thread:stop()
  end
end

done = function()
  local c, k, o, first, last = 0, 0, 0, math.huge, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created"); k = k + t:get("conflicts"); o = o + t:get("other")
    first = math.min(first, t:get("started")); last = math.max(last, t:get("finished"))
  end
  io.write(string.format("booking: created=%d conflicts=%d other=%d in %.1f s = %.1f attempts/s\n",
    c, k, o, last - first, (c + k + o) / (last - first)))
end
