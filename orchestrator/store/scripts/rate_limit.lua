-- rate_limit.lua: take one token from an API key's token bucket, refilled continuously at `rate` per second.
--
-- The bucket is two numbers in a hash, refilled lazily from the time of the last take, so an idle key costs
-- nothing and its bucket expires once it would be full again anyway.
--
-- KEYS[1]  the key's bucket (hash: t = tokens left, ts = time of the last take in ms)
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

local state = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(state[1]) or burst
local last = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - last) * rate / 1000)

local taken, wait = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  taken = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 't', string.format('%.6f', tokens), 'ts', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {taken, wait}
