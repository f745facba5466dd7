-- KEYS[1] fold state of one operation + error type (hash: id, at), KEYS[2] folded counts (hash:
-- entry id -> count), KEYS[3] recent-errors list.
-- ARGV: now (ms), fold window (ms), fold state lifetime (ms), new entry id, new entry JSON, list length.
-- Returns {1, new id, count folded into the previous entry} when the error is recorded, or
-- {0, id of the entry it was folded into, that entry's folded count}.
local last = redis.call('HMGET', KEYS[1], 'id', 'at')
if last[1] and tonumber(ARGV[1]) - tonumber(last[2]) < tonumber(ARGV[2]) then
  return {0, last[1], redis.call('HINCRBY', KEYS[2], last[1], 1)}
end
local previous = 0
if last[1] then previous = tonumber(redis.call('HGET', KEYS[2], last[1]) or '0') end
redis.call('HSET', KEYS[1], 'id', ARGV[4], 'at', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('LPUSH', KEYS[3], ARGV[5])
local max = tonumber(ARGV[6])
for _, json in ipairs(redis.call('LRANGE', KEYS[3], max, -1)) do
  local ok, entry = pcall(cjson.decode, json)
  if ok and type(entry) == 'table' and entry.id then redis.call('HDEL', KEYS[2], entry.id) end
end
redis.call('LTRIM', KEYS[3], 0, max - 1)
return {1, ARGV[4], previous}
