-- Portcullis: check every bucket of one request and take from all of them only if all have room.
-- One call per request; all KEYS share one hash tag, so the script is cluster-safe.
-- The math is io.portcullis.limit.Gcra's, in microseconds of Redis server time (TIME).
--
-- KEYS[i]  the i-th bucket: a GCRA theoretical arrival time (rate) or a window counter (quota)
-- ARGV[1]  '1' to take, '0' to look without taking
-- ARGV[2 + 4(i-1) ..]  per bucket: kind, cost, a, b
--          kind 'r' (rate):  a = emission interval T in microseconds, b = burst B
--          kind 'q' (quota): a = permits N, b = milliseconds until the window ends (key expiry)
-- Returns {now_us, all_admitted, then per bucket: admitted, remaining, reset_us, retry_us, state}
--   state = the bucket's stored TAT in microseconds (rate, 0 if none) or count (quota)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local consume = ARGV[1] == '1'
local result = {now, 1}
local writes = {}

for i = 1, #KEYS do
  local o = 2 + (i - 1) * 4
  local kind, cost = ARGV[o], tonumber(ARGV[o + 1])
  local a, b = tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3])
  local stored = redis.call('GET', KEYS[i])
  local admitted, remaining, reset, retry, state
  if kind == 'r' then
    state = tonumber(stored or '0')
    local tat = math.max(state, now)
    local capacity = a * b
    local new_tat = tat + cost * a
    local ahead = new_tat - now
    if ahead <= capacity then
      admitted, remaining, reset, retry = 1, math.floor((capacity - ahead) / a), ahead, 0
      writes[i] = new_tat
    else
      admitted, reset, retry = 0, tat - now, ahead - capacity
      remaining = math.max(0, math.floor((capacity - (tat - now)) / a))
    end
  else
    state = tonumber(stored or '0')
    if state + cost <= a then
      admitted, remaining = 1, a - state - cost
      writes[i] = cost
    else
      admitted, remaining = 0, math.max(0, a - state)
    end
    reset, retry = 0, 0
  end
  if admitted == 0 then
    result[2] = 0
  end
  local r = #result
  result[r + 1], result[r + 2], result[r + 3], result[r + 4], result[r + 5] =
    admitted, remaining, reset, retry, state
end

if consume and result[2] == 1 then
  for i = 1, #KEYS do
    local o = 2 + (i - 1) * 4
    if ARGV[o] == 'r' then
      -- expire when the bucket is full again: never 0, whatever the rate (at least 1 ms)
      local ttl_ms = math.floor((writes[i] - now) / 1000) + 1
      redis.call('SET', KEYS[i], string.format('%.0f', writes[i]), 'PX', ttl_ms)
    else
      redis.call('INCRBY', KEYS[i], writes[i])
      redis.call('PEXPIRE', KEYS[i], math.max(1, tonumber(ARGV[o + 3])))
    end
  end
end
return result
