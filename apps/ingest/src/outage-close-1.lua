-- KEYS[1]: the camera's outage, {prefix}:outage:{serial} (hash: started_at, reason, alerted).
-- The camera is back: nil if no outage is open; an outage not yet alerted is deleted at once;
-- returns { started_at, alerted, reason } as they were.
local o = redis.call('HMGET', KEYS[1], 'started_at', 'alerted', 'reason')
if not o[1] then return nil end
if o[2] == '0' then redis.call('DEL', KEYS[1]) end
return o
