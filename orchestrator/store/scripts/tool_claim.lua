-- tool_claim.lua: a tool worker claims (or renews its claim on) one server-side tool call before executing it.
--
-- Tool tasks are delivered at least once (a redelivered message, or the sweeper sending a call again after its
-- worker died). The claim makes execution exclusive while a worker is alive, and lets the next worker take over
-- once the claim lapses. The output, once recorded (tool_output.lua), ends every later attempt.
--
-- On 'ok' the store then has the sweeper look at the run once the claim can have lapsed (the leases index is in
-- another slot). A crash between loses nothing: a parked run always has a look due (the one scheduled before its
-- calls were sent, moved on by every look), at which the sweeper reads the claims themselves.
--
-- KEYS[1]  step's tool-output hash (call id -> output JSON)
-- KEYS[2]  step's claims hash       (call id -> 'token|deadline')
--
-- ARGV[1]  call id
-- ARGV[2]  claim token
-- ARGV[3]  now (epoch seconds)
-- ARGV[4]  deadline (epoch seconds)
--
-- Returns 'done' (output already recorded), 'busy' (another live worker holds the call) or 'ok'.

if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'done' end
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current then
  local token, deadline = string.match(current, '^([^|]*)|(.*)$')
  if token ~= ARGV[2] and tonumber(deadline) > tonumber(ARGV[3]) then return 'busy' end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. ARGV[4])
return 'ok'
