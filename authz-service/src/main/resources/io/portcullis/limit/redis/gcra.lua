-- Portcullis: decide a batch of requests. Each request checks every one of its buckets and takes
-- from all of them only if all have room. A batch is the requests that queued while the previous
-- call was in flight (RedisGcraLimiter); they are decided one after another in ARGV order, so a
-- bucket named twice sees the earlier request's take, exactly as separate calls would.
-- All KEYS share one hash tag, so the script is cluster-safe.
-- The math is io.portcullis.limit.Gcra's, in microseconds of Redis server time (TIME).
--
-- ARGV per request, one request after another:
--   consume ('1' to take, '0' to look without taking), n = its number of buckets,
--   then per bucket: kind, cost, a, b
--     kind 'r' (rate):  a = emission interval T in microseconds, b = burst B
--     kind 'q' (quota): a = permits N, b = milliseconds until the window ends (key expiry)
-- KEYS     the buckets of every request, in the same order (n per request)
-- Returns ONE string (a bulk reply: the client decodes a single value instead of a list of
-- integers), lines separated by '\n':
--   now_us
--   then one line per request, in ARGV order, either
--     all_admitted (1 or 0), then per bucket: admitted, remaining, reset_us, retry_us, state,
--     all comma-separated decimal integers ('%d': exact up to 2^63, no exponent notation)
--   or 'E' and an error message (newlines replaced), when that request failed (a key of another
--     type, say): it alone fails, the others in the batch are decided
--   state = the bucket's stored TAT in microseconds (rate, 0 if none, at most now + T*B) or count
--     (quota)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

-- One request: n buckets from KEYS[k] and ARGV[o]. Returns its reply line.
local function decide(consume, k, o, n)
  local rows, writes, all = {}, {}, 1
  for i = 0, n - 1 do
    local p = o + 4 * i
    local kind, cost = ARGV[p], tonumber(ARGV[p + 1])
    local a, b = tonumber(ARGV[p + 2]), tonumber(ARGV[p + 3])
    local stored = redis.call('GET', KEYS[k + i])
    local admitted, remaining, reset, retry, state
    if kind == 'r' then
      state = tonumber(stored or '0')
      local capacity = a * b
      if state > now + capacity then
        -- only a backwards step of TIME leaves a TAT beyond a full bucket's capacity: store it as
        -- just emptied (Gcra.clampTat), so it refills from now instead of refusing for the step
        state = now + capacity
        redis.call('SET', KEYS[k + i], string.format('%.0f', state), 'PX',
          math.floor(capacity / 1000) + 1)
      end
      local tat = math.max(state, now)
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
      all = 0
    end
    rows[i + 2] = string.format('%d,%d,%d,%d,%d', admitted, remaining, reset, retry, state)
  end
  rows[1] = all
  if consume and all == 1 then
    for i = 0, n - 1 do
      local p = o + 4 * i
      if ARGV[p] == 'r' then
        -- expire when the bucket is full again: never 0, whatever the rate (at least 1 ms)
        local ttl_ms = math.floor((writes[i] - now) / 1000) + 1
        redis.call('SET', KEYS[k + i], string.format('%.0f', writes[i]), 'PX', ttl_ms)
      else
        redis.call('INCRBY', KEYS[k + i], writes[i])
        redis.call('PEXPIRE', KEYS[k + i], math.max(1, tonumber(ARGV[p + 3])))
      end
    end
  end
  return table.concat(rows, ',')
end

local lines = {string.format('%d', now)}
local k, o = 1, 1
while o <= #ARGV do
  local consume, n = ARGV[o] == '1', tonumber(ARGV[o + 1])
  local ok, line = pcall(decide, consume, k, o + 2, n)
  if not ok then
    local message = type(line) == 'table' and tostring(line.err) or tostring(line)
    line = 'E' .. string.gsub(message, '[\r\n]', ' ')
  end
  lines[#lines + 1] = line
  k, o = k + n, o + 2 + 4 * n
end
return table.concat(lines, '\n')
