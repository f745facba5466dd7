-- KEYS[1] sorted set: one member per request, scored by when it ended (or by when it will have ended
-- at the latest, while in flight). ARGV: member, limit, window (ms), the request's timeout (ms).
-- Returns 0 when the request may go (and counts it), else how many ms to wait before asking again.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - window))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], window + tonumber(ARGV[4]) + 1000)
  return 0
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(first[2]) + window - now + 1)
