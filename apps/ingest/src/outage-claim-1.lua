-- KEYS[1]: the camera's outage, {prefix}:outage:{serial} (hash: started_at, reason, alerted).
-- ARGV: started_at. The check job's claim on its outage: nil if that outage is closed (or another one
-- is open), else { alerted, reason } after moving "0" to "claimed".
local o = redis.call('HMGET', KEYS[1], 'started_at', 'alerted', 'reason')
if o[1] ~= ARGV[1] then return nil end
if o[2] == '0' then
  redis.call('HSET', KEYS[1], 'alerted', 'claimed')
  o[2] = 'claimed'
end
return {o[2], o[3]}
