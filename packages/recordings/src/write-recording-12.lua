-- One atomic write of a recording and every index that mentions it. Redis runs a script without
-- interleaving other commands (like MULTI), and unlike MULTI it can read first: the existence check,
-- the status condition and the byte-total delta need the entry's current values.
--
-- KEYS: item, by-start, by-camera, totals, by-status × 4, by-camera-status × 4 (RECORDING_STATUSES order)
-- ARGV: mode (create|update|delete), allowed statuses ("a,b" or ""), id, device_sn, now ms,
--       number of field/value pairs, the pairs, then the fields to clear.
-- Returns {"ok", hash-after (or hash-before for delete)} | {"exists"} | {"not_found"} | {"conflict", status}.
local STATUSES = {'recording', 'completed', 'failed', 'missing'}
local mode, allowedList, id, sn, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local exists = redis.call('EXISTS', KEYS[1]) == 1
if mode == 'create' and exists then return {'exists'} end
if mode ~= 'create' and not exists then return {'not_found'} end

local oldStatus, oldBytes = false, 0
if exists then
  local current = redis.call('HMGET', KEYS[1], 'status', 'bytes')
  oldStatus, oldBytes = current[1], tonumber(current[2]) or 0
  if allowedList ~= '' then
    local allowed = false
    for s in string.gmatch(allowedList, '[^,]+') do
      if s == oldStatus then allowed = true end
    end
    if not allowed then return {'conflict', oldStatus or ''} end
  end
end

-- Totals: 'count' and 'bytes' overall, 'count:<sn>' and 'bytes:<sn>' per camera (gone at zero).
-- Integers are formatted with %d: Lua would write large numbers as 1e+15, which HINCRBY rejects.
local countField, bytesField = 'count:' .. sn, 'bytes:' .. sn
local function addToTotals(count, bytes)
  local cameraLeft = true
  if count ~= 0 then
    redis.call('HINCRBY', KEYS[4], 'count', string.format('%d', count))
    if redis.call('HINCRBY', KEYS[4], countField, string.format('%d', count)) <= 0 then
      redis.call('HDEL', KEYS[4], countField, bytesField)
      cameraLeft = false
    end
  end
  if bytes ~= 0 then
    redis.call('HINCRBY', KEYS[4], 'bytes', string.format('%d', bytes))
    if cameraLeft then redis.call('HINCRBY', KEYS[4], bytesField, string.format('%d', bytes)) end
  end
end

if mode == 'delete' then
  local before = redis.call('HGETALL', KEYS[1])
  redis.call('DEL', KEYS[1])
  for i = 2, 3 do redis.call('ZREM', KEYS[i], id) end
  for i = 5, 12 do redis.call('ZREM', KEYS[i], id) end
  addToTotals(-1, -oldBytes)
  return {'ok', before}
end

local pairCount = tonumber(ARGV[6])
if pairCount > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 7, 6 + 2 * pairCount)) end
if #ARGV >= 7 + 2 * pairCount then redis.call('HDEL', KEYS[1], unpack(ARGV, 7 + 2 * pairCount, #ARGV)) end
if mode == 'create' then redis.call('HSET', KEYS[1], 'created_at', now) end
redis.call('HSET', KEYS[1], 'updated_at', now)

local after = redis.call('HMGET', KEYS[1], 'status', 'bytes', 'started_at')
local status, bytes, score = after[1], tonumber(after[2]) or 0, after[3]
if mode == 'create' then
  redis.call('ZADD', KEYS[2], score, id)
  redis.call('ZADD', KEYS[3], score, id)
  addToTotals(1, 0)
end
if status ~= oldStatus then
  for i, s in ipairs(STATUSES) do
    if s == status then
      redis.call('ZADD', KEYS[4 + i], score, id)
      redis.call('ZADD', KEYS[8 + i], score, id)
    else
      redis.call('ZREM', KEYS[4 + i], id)
      redis.call('ZREM', KEYS[8 + i], id)
    end
  end
end
addToTotals(0, bytes - oldBytes)
return {'ok', redis.call('HGETALL', KEYS[1])}
