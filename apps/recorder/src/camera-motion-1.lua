-- KEYS[1] camera. ARGV: 1 candidate id, 2 its start (ms), 3 now, 4 motion time, 5 max recording
-- (ms), 6 grace after the cap after which an unstopped recording counts as abandoned (ms).
local cam = KEYS[1]
local now = tonumber(ARGV[3])
local current = redis.call('HGET', cam, 'recording_id')
if current then
  local started = tonumber(redis.call('HGET', cam, 'started_at'))
  if now < started + tonumber(ARGV[5]) + tonumber(ARGV[6]) then
    local last = tonumber(redis.call('HGET', cam, 'last_motion_at') or '0')
    if tonumber(ARGV[4]) > last then redis.call('HSET', cam, 'last_motion_at', ARGV[4]) end
    return {'extended', current, tostring(started), redis.call('HGET', cam, 'setup') or '0'}
  end
end
local snoozed = tonumber(redis.call('HGET', cam, 'snoozed_until') or '0')
if now < snoozed then return {'snoozed', tostring(snoozed)} end
local second = math.floor(tonumber(ARGV[2]) / 1000)
local last_second = tonumber(redis.call('HGET', cam, 'last_start_second') or '-1')
if second <= last_second then return {'bump', tostring(last_second + 1)} end
redis.call('HSET', cam, 'recording_id', ARGV[1], 'started_at', ARGV[2], 'last_motion_at', ARGV[4],
  'last_start_second', tostring(second), 'setup', '0')
redis.call('HDEL', cam, 'snoozed_until')
return {'started', ARGV[1], ARGV[2], current or ''}
