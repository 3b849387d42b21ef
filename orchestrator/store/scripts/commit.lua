-- commit.lua: one guarded, atomic write of a run's state, the objects it touches and the events it announces.
--
-- Every state change of a run and every event a client can see goes through here, so the event log and the
-- stored objects can never disagree: either the guard holds and everything below is written and published,
-- or nothing is.
--
-- Every key is in the thread's slot (the `{thread_id}` hash tag), so this runs on a Redis Cluster too. The
-- indexes that span threads (the sweeper's expiring and leases sets, the project's active runs for its cap)
-- are written by the store around this script: an entry before the commit that needs it, its removal after
-- the commit that ends it (store/redis_store.py), and the sweeper drops entries of runs that are not active.
-- The project's thread list, for a thread this commit creates, is written just before it (services/threads.py).
--
-- KEYS[1]  run hash        (fields: status, ver, doc, dispatch, holder)
-- KEYS[2]  run event log   (stream; entries {e = event name, d = JSON data})
-- KEYS[3]  thread's active-run key (string: the id of the run that holds the thread)
-- KEYS[4..] object keys: first the `ns` keys to SET, then the `nz` lexicographic index keys to ZADD
--
-- ARGV[1]  run id ('' when no run is involved)
-- ARGV[2]  active mode: '' | 'acquire' (thread must be free; it becomes held by ARGV[1]) |
--          'release' (drop the hold if ARGV[1] has it) | 'free' (thread must not be held by another run)
-- ARGV[3]  pub/sub channel rung once per commit with events (a doorbell: the message is the last event's id and
--          the events' names; readers take the events themselves from the log, so their data crosses Redis once)
-- ARGV[4]  event log maxlen (approximate)
-- ARGV[5]  event log TTL in seconds, applied on 'release'
-- then: ng, ng x (field, allowed values joined by '|', '' meaning absent or empty)
-- then: nh, nh x (field, value) to HSET on the run hash with `ver` + 1 (`ver` + 1 also when documents are set)
-- then: ns, ns x document for KEYS[4 ..]
-- then: nz, nz x member for the index keys after those
-- then: events as (name, data) pairs to the end
--
-- Returns {1, ver, event ids...} on success, {0, field, current value} when a guard fails,
-- {2, active run id} when the thread is held by another run.

local run_id, mode = ARGV[1], ARGV[2]
-- Only the active modes look at the thread's hold (most commits, a run's deltas among them, have none).
local active = false
if mode ~= '' then
  active = redis.call('GET', KEYS[3])
end
if (mode == 'acquire' and active) or (mode == 'free' and active and active ~= run_id) then
  return {2, active}
end

local ng = tonumber(ARGV[6])
local nh = tonumber(ARGV[7 + 2 * ng])
local ns = tonumber(ARGV[8 + 2 * ng + 2 * nh])
-- Writing run fields, or a run's message or step, counts as a change of the run (`ver` + 1), so a stale reader's
-- commit fails its guard.
local bump = nh > 0 or (run_id ~= '' and ns > 0)

-- Every guarded field, and the version to bump, in one read.
local fields = {}
for g = 1, ng do fields[g] = ARGV[5 + 2 * g] end
if bump then table.insert(fields, 'ver') end
local values = {}
if #fields > 0 then values = redis.call('HMGET', KEYS[1], unpack(fields)) end
local i = 7
for g = 1, ng do
  local field, allowed = ARGV[i], ARGV[i + 1]
  i = i + 2
  local current = values[g] or ''
  local ok = false
  for value in string.gmatch(allowed .. '|', '([^|]*)|') do
    if value == current then ok = true break end
  end
  if not ok then return {0, field, current} end
end

i = i + 1 -- past nh
local ver = 0
if bump then
  -- The new version goes with the fields (one HSET, no HINCRBY): the script runs alone, so nothing moved it.
  ver = (tonumber(values[#fields]) or 0) + 1
  local pairs_ = {}
  for _ = 1, nh do
    table.insert(pairs_, ARGV[i]); table.insert(pairs_, ARGV[i + 1])
    i = i + 2
  end
  table.insert(pairs_, 'ver'); table.insert(pairs_, tostring(ver))
  redis.call('HSET', KEYS[1], unpack(pairs_))
end

local k = 4
i = i + 1 -- past ns
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
end

local result = {1, ver}
local names = {}
while i < #ARGV do
  local name, data = ARGV[i], ARGV[i + 1]
  i = i + 2
  table.insert(result, redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'e', name, 'd', data))
  table.insert(names, name)
end
if #names > 0 and ARGV[3] ~= '' then
  redis.call('PUBLISH', ARGV[3], result[#result] .. '\n' .. table.concat(names, '\n'))
end

if mode == 'release' then
  if active == run_id then redis.call('DEL', KEYS[3]) end
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
end
return result
