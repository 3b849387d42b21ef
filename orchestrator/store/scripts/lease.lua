-- lease.lua: an executor renews its lease on a run, provided it still holds the run.
--
-- A lease that is not renewed lapses, and the sweeper hands the run to another worker (services/recovery.py).
-- The holder check makes renewal and hand-over exclusive: once the sweeper cleared `holder`, the old executor can
-- neither renew nor write (every executor commit is guarded by its holder token).
--
-- KEYS[1]  run hash        (fields: holder, lease)
-- KEYS[2]  leases index    (sorted set scored by when the sweeper must look at the run)
--
-- ARGV[1]  holder token
-- ARGV[2]  new deadline (epoch seconds)
-- ARGV[3]  leases index member
--
-- Returns 1 when renewed, 0 when the run is no longer held by this token.

if redis.call('HGET', KEYS[1], 'holder') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'lease', ARGV[2])
redis.call('ZADD', KEYS[2], tonumber(ARGV[2]), ARGV[3])
return 1
