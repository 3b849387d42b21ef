-- lease.lua: an executor renews its lease on a run, provided it still holds the run.
--
-- A lease that is not renewed lapses, and the sweeper hands the run to another worker (services/recovery.py).
-- The holder check makes renewal and hand-over exclusive: once the sweeper cleared `holder`, the old executor can
-- neither renew nor write (every executor commit is guarded by its holder token).
--
-- The leases index (another slot) is moved to the new deadline by the store after this returns 1: a crash
-- between leaves the sweeper an earlier look, at which it finds the lease alive and looks again at its deadline.
--
-- KEYS[1]  run hash        (fields: holder, lease)
--
-- ARGV[1]  holder token
-- ARGV[2]  new deadline (epoch seconds)
--
-- Returns 1 when renewed, 0 when the run is no longer held by this token.

if redis.call('HGET', KEYS[1], 'holder') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'lease', ARGV[2])
return 1
