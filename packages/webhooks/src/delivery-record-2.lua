-- KEYS[1] index (sorted set: webhook id by last attempt), KEYS[2] this webhook's attempts (list).
-- ARGV: webhook id, attempt JSON, attempt time (ms), webhooks kept, attempts kept, key prefix of the
-- lists, oldest attempt time kept (ms). The counters (totals, per day) are written beside it in the
-- same MULTI (DeliveryLog.record).
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if excess > 0 then
  local dropped = redis.call('ZPOPMIN', KEYS[1], excess)
  for i = 1, #dropped, 2 do redis.call('DEL', ARGV[6] .. dropped[i]) end
end
-- Webhooks older than the kept age go whole, a hundred per write at most so a write stays short.
local old = redis.call('ZRANGE', KEYS[1], '-inf', '(' .. ARGV[7], 'BYSCORE', 'LIMIT', 0, 100)
for _, id in ipairs(old) do redis.call('DEL', ARGV[6] .. id) end
if #old > 0 then redis.call('ZREM', KEYS[1], unpack(old)) end
return 1
