-- vs_file_add.lua: a file joins a vector store as `in_progress`, counted in the store in the same step.
--
-- The store's file_counts and status are derived from the counters this script and vs_file_finish.lua /
-- vs_file_remove.lua keep, so a poller never sees a file that is not counted, or counted twice.
--
-- KEYS[1]  vector store hash   (fields: doc, in_progress, completed, failed, cancelled, total, usage_bytes)
-- KEYS[2]  vector store file hash
-- KEYS[3]  the store's file index (sorted set, lexicographic)
-- KEYS[4]  the store's in_progress file index
--
-- ARGV[1]  file id
-- ARGV[2]  created_at (epoch seconds)
-- ARGV[3]  chunking_strategy (JSON)
-- ARGV[4]  attributes (JSON, or '' for none)
--
-- Returns 1 when added, 0 when the store already held the file (left as it is), -1 when the store is gone.

if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], 'status', 'in_progress', 'created_at', ARGV[2], 'chunking', ARGV[3],
  'attributes', ARGV[4], 'usage_bytes', 0, 'chunks', 0)
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('ZADD', KEYS[4], 0, ARGV[1])
redis.call('HINCRBY', KEYS[1], 'in_progress', 1)
redis.call('HINCRBY', KEYS[1], 'total', 1)
return 1
