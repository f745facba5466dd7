-- KEYS[1] index (sorted set: webhook id by last attempt), KEYS[2] this webhook's attempts (list),
-- KEYS[3] attempts per outcome (hash, never trimmed).
-- ARGV: webhook id, attempt JSON, attempt time (ms), webhooks kept, attempts kept, key prefix of the
-- lists, outcome.
redis.call('HINCRBY', KEYS[3], ARGV[7], 1)
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if excess > 0 then
  local dropped = redis.call('ZPOPMIN', KEYS[1], excess)
  for i = 1, #dropped, 2 do redis.call('DEL', ARGV[6] .. dropped[i]) end
end
return 1
