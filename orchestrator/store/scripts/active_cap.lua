-- active_cap.lua: reserve a run's place among its project's active runs, before the commit that starts it.
--
-- The index has its own slot (on a Redis Cluster, not the thread's), so it is kept outside commit.lua: a place
-- is reserved here first, given back if that commit fails and after the commit that ends the run. A place left
-- behind by a crash between the two carries the run's expiry as its score and is reaped once long past it.
--
-- KEYS[1]  the project's active runs (sorted set: run id scored by expires_at)
--
-- ARGV[1]  run id
-- ARGV[2]  score: the run's expires_at ('' for none)
-- ARGV[3]  cap on the project's active runs ('0': none, the place is still recorded)
--
-- Returns {1, 0} when the place is reserved, {0, active runs} when the project is at its cap.

local cap = tonumber(ARGV[3])
if cap > 0 then
  -- A place a minute past its expiry is a leftover (the sweeper ends live runs sooner): drop it, never count it.
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(redis.call('TIME')[1]) - 60)
  local count = redis.call('ZCARD', KEYS[1])
  if count >= cap and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return {0, count} end
end
redis.call('ZADD', KEYS[1], ARGV[2] ~= '' and ARGV[2] or '+inf', ARGV[1])
return {1, 0}
