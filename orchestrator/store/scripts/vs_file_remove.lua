-- vs_file_remove.lua: a file leaves a vector store with its chunks, postings and vectors, uncounted in one step.
--
-- The postings keys are named here from KEYS[12] plus each term the chunk recorded: they share the store's
-- `{vs_id}` hash tag, so they live in the same slot as every declared key.
--
-- KEYS[1]  vector store hash
-- KEYS[2]  vector store file hash
-- KEYS[3]  the store's file index
-- KEYS[4..7] the store's file indexes by status: in_progress, completed, failed, cancelled
-- KEYS[8]  chunks hash
-- KEYS[9]  chunk terms hash
-- KEYS[10] embeddings hash
-- KEYS[11] index stats hash
-- KEYS[12] postings key prefix (not a key: the term completes it)
--
-- ARGV[1]  file id
--
-- Returns 1 when removed, 0 when the store did not hold the file.

local status = redis.call('HGET', KEYS[2], 'status')
if not status then return 0 end
local usage = tonumber(redis.call('HGET', KEYS[2], 'usage_bytes') or '0')
local n = tonumber(redis.call('HGET', KEYS[2], 'chunks') or '0')
local tokens = 0
for c = 0, n - 1 do
  local chunk_id = ARGV[1] .. '#' .. c
  local terms = redis.call('HGET', KEYS[9], chunk_id)
  if terms then
    local first = true
    for word in string.gmatch(terms, '%S+') do
      if first then
        tokens = tokens + tonumber(word)
        first = false
      else
        redis.call('HDEL', KEYS[12] .. word, chunk_id)
      end
    end
  end
  redis.call('HDEL', KEYS[8], chunk_id)
  redis.call('HDEL', KEYS[9], chunk_id)
  redis.call('HDEL', KEYS[10], chunk_id)
end
if n > 0 and status == 'completed' then
  redis.call('HINCRBY', KEYS[11], 'generation', 1)
  redis.call('HINCRBY', KEYS[11], 'chunks', -n)
  if tokens > 0 then redis.call('HINCRBY', KEYS[11], 'tokens', -tokens) end
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
for k = 4, 7 do redis.call('ZREM', KEYS[k], ARGV[1]) end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], status, -1)
  redis.call('HINCRBY', KEYS[1], 'total', -1)
  -- Lua numbers are doubles: -0 would reach Redis as '-0', which HINCRBY refuses.
  if usage > 0 then redis.call('HINCRBY', KEYS[1], 'usage_bytes', -usage) end
end
return 1
