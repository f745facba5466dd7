-- KEYS[1]: the camera's outage, {prefix}:outage:{serial} (hash: started_at, reason, alerted).
-- ARGV: started_at, reason. Opens the outage unless one is open (then only its reason is updated).
-- Returns the start of the open outage.
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'reason', ARGV[2])
  return redis.call('HGET', KEYS[1], 'started_at')
end
redis.call('HSET', KEYS[1], 'started_at', ARGV[1], 'reason', ARGV[2], 'alerted', '0')
return ARGV[1]
