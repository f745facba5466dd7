-- KEYS[1] camera, KEYS[2] session. ARGV: 1 id, 2 now, 3 motion timeout (ms), 4 max recording (ms),
-- 5 snooze (ms), 6 forced stop reason ('' for none), 7 the recording's start (ms).
if redis.call('HGET', KEYS[2], 'phase') == 'finishing' then
  return {'stop', redis.call('HGET', KEYS[2], 'stop_reason'), redis.call('HGET', KEYS[2], 'ended_at')}
end
local now = tonumber(ARGV[2])
local cap = tonumber(ARGV[7]) + tonumber(ARGV[4])
local reason, ended
if redis.call('HGET', KEYS[1], 'recording_id') ~= ARGV[1] then
  reason = 'abandoned'
  ended = math.min(now, cap)
else
  local quiet = tonumber(redis.call('HGET', KEYS[1], 'last_motion_at')) + tonumber(ARGV[3])
  if ARGV[6] ~= '' then
    reason = ARGV[6]
    ended = now
  elseif now >= cap then
    reason = 'max_duration'
    ended = cap
  elseif now >= quiet then
    reason = 'motion_timeout'
    ended = quiet
  else
    return {'continue', tostring(math.min(cap, quiet))}
  end
  redis.call('HDEL', KEYS[1], 'recording_id', 'started_at', 'last_motion_at', 'setup')
  if reason == 'max_duration' and tonumber(ARGV[5]) > 0 then
    redis.call('HSET', KEYS[1], 'snoozed_until', tostring(ended + tonumber(ARGV[5])))
  end
end
redis.call('HSET', KEYS[2], 'phase', 'finishing', 'stop_reason', reason, 'ended_at', tostring(ended))
return {'stop', reason, tostring(ended)}
