-- rate_limit.lua: take one token from an API key's token bucket, refilled continuously at `rate` per second.
--
-- The bucket is two numbers in one string ("tokens ms-of-last-take"), refilled lazily from the time of the last
-- take, so an idle key costs nothing and its bucket expires once it would be full again anyway. A string rather
-- than a hash so the write and its expiry are one command (SET PX): four commands per request with this call.
--
-- KEYS[1]  the key's bucket (string: "<tokens left> <time of the last take in ms>")
--
-- ARGV[1]  rate: tokens added per second (> 0)
-- ARGV[2]  burst: the bucket's size (>= 1)
-- ARGV[3]  now in ms ('' for the server's clock, which every API process shares; tests pass their own)
--
-- Returns {1, 0} when a token was taken, {0, ms until the next token} when the bucket is empty.

local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if not now then
  local clock = redis.call('TIME')
  now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
end

local tokens, last = burst, now
local state = redis.call('GET', KEYS[1])
if state then
  local t, ts = string.match(state, '^(%S+) (%S+)$')
  tokens, last = tonumber(t) or burst, tonumber(ts) or now
end
tokens = math.min(burst, tokens + math.max(0, now - last) * rate / 1000)

if tokens < 1 then
  -- Nothing taken, nothing written: the next call refills from the same last take to the same level (an empty
  -- bucket is below its cap, so the refill is linear up to there).
  return {0, math.ceil((1 - tokens) * 1000 / rate)}
end
redis.call('SET', KEYS[1], string.format('%.6f %d', tokens - 1, now), 'PX', math.ceil(burst * 1000 / rate) + 1000)
return {1, 0}
