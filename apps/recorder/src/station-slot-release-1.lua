-- KEYS[1] slot. ARGV: 1 recording id, 2 channel, 3 station. Frees it only for its holder.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
