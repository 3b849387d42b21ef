-- commit.lua: one guarded, atomic write of a run's state, the objects it touches and the events it announces.
--
-- Every state change of a run and every event a client can see goes through here, so the event log and the
-- stored objects can never disagree: either the guard holds and everything below is written and published,
-- or nothing is.
--
-- KEYS[1]  run hash        (fields: status, ver, doc, dispatch, holder)
-- KEYS[2]  run event log   (stream; entries {e = event name, d = JSON data})
-- KEYS[3]  thread's active-run key (string: the id of the run that holds the thread)
-- KEYS[4]  expiring-runs index (sorted set scored by expires_at)
-- KEYS[5]  the project's active runs (sorted set: run id scored by expires_at), for the active-run cap:
--          added on 'acquire', removed on 'release', so it cannot drift from the runs' own ends
-- KEYS[6..] object keys: first the `ns` keys to SET, then the `nz` lexicographic index keys to ZADD
--
-- ARGV[1]  run id ('' when no run is involved)
-- ARGV[2]  active mode: '' | 'acquire' (thread must be free; it becomes held by ARGV[1]) |
--          'release' (drop the hold if ARGV[1] has it) | 'free' (thread must not be held by another run)
-- ARGV[3]  pub/sub channel for the events
-- ARGV[4]  event log maxlen (approximate)
-- ARGV[5]  event log TTL in seconds, applied on 'release'
-- ARGV[6]  expiry score to index the run under ('' for none)
-- ARGV[7]  expiry index member
-- ARGV[8]  cap on the project's active runs, checked on 'acquire' ('0': none)
-- then: ng, ng x (field, allowed values joined by '|', '' meaning absent or empty)
-- then: nh, nh x (field, value) to HSET on the run hash; `ver` is then incremented (also when documents are set)
-- then: ns, ns x document for KEYS[6 ..]
-- then: nz, nz x member for the index keys after those
-- then: events as (name, data) pairs to the end
--
-- Returns {1, ver, event ids...} on success, {0, field, current value} when a guard fails,
-- {2, active run id} when the thread is held by another run, {3, active runs} when the project is at its cap.

local run_id, mode = ARGV[1], ARGV[2]
local active = redis.call('GET', KEYS[3])
if (mode == 'acquire' and active) or (mode == 'free' and active and active ~= run_id) then
  return {2, active}
end
if mode == 'acquire' and tonumber(ARGV[8]) > 0 then
  -- A member a minute past its expiry is a leftover (the sweeper ends live runs sooner): drop it, never count it.
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', tonumber(redis.call('TIME')[1]) - 60)
  local count = redis.call('ZCARD', KEYS[5])
  if count >= tonumber(ARGV[8]) then return {3, count} end
end

local i = 9
local ng = tonumber(ARGV[i]); i = i + 1
for _ = 1, ng do
  local field, allowed = ARGV[i], ARGV[i + 1]
  i = i + 2
  local current = redis.call('HGET', KEYS[1], field) or ''
  local ok = false
  for value in string.gmatch(allowed .. '|', '([^|]*)|') do
    if value == current then ok = true break end
  end
  if not ok then return {0, field, current} end
end

local nh = tonumber(ARGV[i]); i = i + 1
local ver = 0
-- Writing a run's message or step counts as a change of the run, so a stale reader's commit fails its guard.
if ARGV[1] ~= '' and nh == 0 and tonumber(ARGV[i]) > 0 then
  ver = redis.call('HINCRBY', KEYS[1], 'ver', 1)
end
if nh > 0 then
  local pairs_ = {}
  for _ = 1, nh do
    table.insert(pairs_, ARGV[i]); table.insert(pairs_, ARGV[i + 1])
    i = i + 2
  end
  redis.call('HSET', KEYS[1], unpack(pairs_))
  ver = redis.call('HINCRBY', KEYS[1], 'ver', 1)
end

local k = 6
local ns = tonumber(ARGV[i]); i = i + 1
for _ = 1, ns do
  redis.call('SET', KEYS[k], ARGV[i])
  k = k + 1; i = i + 1
end
local nz = tonumber(ARGV[i]); i = i + 1
for _ = 1, nz do
  redis.call('ZADD', KEYS[k], 0, ARGV[i])
  k = k + 1; i = i + 1
end

if mode == 'acquire' then
  redis.call('SET', KEYS[3], run_id)
  redis.call('ZADD', KEYS[5], ARGV[6] ~= '' and ARGV[6] or '+inf', run_id)
end
if ARGV[6] ~= '' then
  redis.call('ZADD', KEYS[4], tonumber(ARGV[6]), ARGV[7])
end

local result = {1, ver}
while i < #ARGV do
  local name, data = ARGV[i], ARGV[i + 1]
  i = i + 2
  local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'e', name, 'd', data)
  redis.call('PUBLISH', ARGV[3], id .. '\n' .. name .. '\n' .. data)
  table.insert(result, id)
end

if mode == 'release' then
  if active == run_id then redis.call('DEL', KEYS[3]) end
  redis.call('ZREM', KEYS[4], ARGV[7])
  redis.call('ZREM', KEYS[5], run_id)
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
end
return result
