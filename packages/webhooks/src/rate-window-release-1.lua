-- KEYS[1] as above; ARGV[1] the member. Scores it by the time it really ended (XX: never re-adds one
-- that already expired).
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], 'XX', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1])
return 1
