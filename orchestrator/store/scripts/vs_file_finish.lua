-- vs_file_finish.lua: a file's ingestion ends: its chunks enter the index and its status leaves `in_progress`,
-- in one step.
--
-- Nothing is written unless the file is still `in_progress` in the store: a file removed (or its batch
-- cancelled) while a worker parsed it leaves no orphan chunk, and a redelivered task finds it finished.
--
-- KEYS[1]  vector store hash
-- KEYS[2]  vector store file hash
-- KEYS[3]  the store's in_progress file index
-- KEYS[4]  the store's file index for the new status
-- KEYS[5]  chunks hash        (chunk id -> chunk JSON)
-- KEYS[6]  chunk terms hash   (chunk id -> 'length term term ...')
-- KEYS[7]  embeddings hash    (chunk id -> base64 float32)
-- KEYS[8]  index stats hash   (chunks, tokens, model, generation)
-- KEYS[9..] one postings hash per distinct term (chunk id -> term frequency)
--
-- ARGV[1]  file id
-- ARGV[2]  new status: completed | failed | cancelled
-- ARGV[3]  usage_bytes
-- ARGV[4]  last_error (JSON, or '')
-- ARGV[5]  embedding model ('' when the chunks carry no vectors)
-- ARGV[6]  number of chunks n, then n groups of 4: chunk id, chunk JSON, terms string, embedding ('' for none),
--          then for each postings key (KEYS[9..], in order): a count m and m pairs (chunk id, term frequency)
--
-- Returns 1 when the file was finished, 0 when it was not in progress (nothing written).

if redis.call('HGET', KEYS[2], 'status') ~= 'in_progress' then return 0 end
local status = ARGV[2]
local n = tonumber(ARGV[6])
local usage = tonumber(ARGV[3])
local model = ARGV[5]
local tokens = 0
local i = 7
local stored_model = redis.call('HGET', KEYS[8], 'model')
-- Vectors from another embedder than the store's first cannot be compared with it: keep only the text.
local keep_vectors = model ~= '' and (not stored_model or stored_model == model)
if keep_vectors and not stored_model then redis.call('HSET', KEYS[8], 'model', model) end
for _ = 1, n do
  local chunk_id, doc, terms, vector = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  redis.call('HSET', KEYS[5], chunk_id, doc)
  redis.call('HSET', KEYS[6], chunk_id, terms)
  if keep_vectors and vector ~= '' then redis.call('HSET', KEYS[7], chunk_id, vector) end
  tokens = tokens + tonumber(string.match(terms, '^(%d+)'))
  i = i + 4
end
for k = 9, #KEYS do
  local m = tonumber(ARGV[i])
  i = i + 1
  for _ = 1, m do
    redis.call('HSET', KEYS[k], ARGV[i], ARGV[i + 1])
    i = i + 2
  end
end
if n > 0 then
  -- `generation` dates the index's content: readers cache decoded vectors until it moves.
  redis.call('HINCRBY', KEYS[8], 'generation', 1)
  redis.call('HINCRBY', KEYS[8], 'chunks', n)
  redis.call('HINCRBY', KEYS[8], 'tokens', tokens)
end
redis.call('HSET', KEYS[2], 'status', status, 'usage_bytes', usage, 'last_error', ARGV[4], 'chunks', n)
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], 0, ARGV[1])
redis.call('HINCRBY', KEYS[1], 'in_progress', -1)
redis.call('HINCRBY', KEYS[1], status, 1)
redis.call('HINCRBY', KEYS[1], 'usage_bytes', usage)
return 1
