-- KEYS[1]: the camera's outage, {prefix}:outage:{serial} (hash: started_at, reason, alerted).
-- ARGV: started_at, field value for "alerted" or "" to delete. Acts only on that same outage.
if redis.call('HGET', KEYS[1], 'started_at') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
return redis.call('HSET', KEYS[1], 'alerted', ARGV[2])
