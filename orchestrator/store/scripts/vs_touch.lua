-- vs_touch.lua: note a vector store's last activity (its expiry counts from it), unless the store is gone.
--
-- KEYS[1]  vector store hash
-- ARGV[1]  now (epoch seconds)

if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'last_active_at', ARGV[1]) end
return 0
