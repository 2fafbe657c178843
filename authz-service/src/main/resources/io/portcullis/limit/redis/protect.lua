-- Portcullis protect.failed_auth: count one failed authentication of a source and block the
-- source once it reaches the threshold within the window. Both keys share one hash tag.
--
-- KEYS[1]  the source's failure counter      KEYS[2]  the source's block
-- ARGV     threshold, window_ms, block_ms, pub/sub channel, source key
-- Returns {blocked (0|1), blocked_at_ms, blocked_until_ms, failures}
-- A block's value is "blocked_at_ms:blocked_until_ms:failures"; blocks are announced on the
-- channel as "B:<value>:<source key>" so every instance can refuse the source without asking Redis.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local existing = redis.call('GET', KEYS[2])
if existing then
  local at, till, failures = string.match(existing, '^(%d+):(%d+):(%d+)$')
  return {1, tonumber(at), tonumber(till), tonumber(failures)}
end
local failures = redis.call('INCR', KEYS[1])
if failures == 1 then
  redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(ARGV[2])))
end
if failures >= tonumber(ARGV[1]) then
  local block_ms = math.max(1, tonumber(ARGV[3]))
  local till = now + block_ms
  local value = string.format('%d:%d:%d', now, till, failures)
  redis.call('SET', KEYS[2], value, 'PX', block_ms)
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[4], 'B:' .. value .. ':' .. ARGV[5])
  return {1, now, till, failures}
end
return {0, now, 0, failures}
