-- tool_claim.lua: a tool worker claims (or renews its claim on) one server-side tool call before executing it.
--
-- Tool tasks are delivered at least once (a redelivered message, or the sweeper sending a call again after its
-- worker died). The claim makes execution exclusive while a worker is alive, and lets the next worker take over
-- once the claim lapses. The output, once recorded (tool_output.lua), ends every later attempt.
--
-- KEYS[1]  step's tool-output hash (call id -> output JSON)
-- KEYS[2]  step's claims hash       (call id -> 'token|deadline')
-- KEYS[3]  leases index             (the run is looked at again once the claim can have lapsed)
--
-- ARGV[1]  call id
-- ARGV[2]  claim token
-- ARGV[3]  now (epoch seconds)
-- ARGV[4]  deadline (epoch seconds)
-- ARGV[5]  leases index member
--
-- Returns 'done' (output already recorded), 'busy' (another live worker holds the call) or 'ok'.

if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'done' end
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current then
  local token, deadline = string.match(current, '^([^|]*)|(.*)$')
  if token ~= ARGV[2] and tonumber(deadline) > tonumber(ARGV[3]) then return 'busy' end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. ARGV[4])
local score = redis.call('ZSCORE', KEYS[3], ARGV[5])
if not score or tonumber(score) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[3], tonumber(ARGV[4]), ARGV[5])
end
return 'ok'
