-- tool_output.lua: record one server-side tool call's output and, when it is the last one the run waits for,
-- hand the run back to the executor exactly once.
--
-- KEYS[1]  run hash        (fields: status, dispatch, holder, awaiting)
-- KEYS[2]  run's tool-output hash (call id -> output JSON)
-- KEYS[3]  run event log
--
-- ARGV[1]  call id
-- ARGV[2]  output JSON
-- ARGV[3]  dispatch token to set when every awaited output is in
-- ARGV[4]  pub/sub channel (rung once with the last event's id and the events' names)
-- ARGV[5]  event log maxlen
-- then: events as (name, data) pairs, published only when the output is new
--
-- Returns {state, ...}: 'stale' (the run no longer waits on tools: cancelled, expired or already resumed),
-- 'duplicate' (this call's output is already recorded), 'waiting' (others are outstanding) or 'dispatch'.

local status = redis.call('HGET', KEYS[1], 'status')
local awaiting = tonumber(redis.call('HGET', KEYS[1], 'awaiting') or '0')
if status ~= 'in_progress' or awaiting == 0 then return {'stale'} end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return {'duplicate'} end

local i = 6
local id, names = nil, {}
while i < #ARGV do
  id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'e', ARGV[i], 'd', ARGV[i + 1])
  table.insert(names, ARGV[i])
  i = i + 2
end
if id then
  -- A doorbell, as in commit.lua: readers take the events from the log.
  redis.call('PUBLISH', ARGV[4], id .. '\n' .. table.concat(names, '\n'))
end

if redis.call('HLEN', KEYS[2]) < awaiting then return {'waiting'} end
redis.call('HSET', KEYS[1], 'awaiting', '0', 'dispatch', ARGV[3])
return {'dispatch'}
