-- Deletes a batch of recordings from every index in one atomic step (the janitor's retention runs a
-- page of ids per call). Each id is checked on its own, as write-recording-12.lua's delete mode does:
-- gone ids are reported, and with allowed statuses one in another status (a recording in progress) is
-- left alone and reported. The sorted sets lose all the deleted ids in one ZREM per key.
--
-- KEYS: by-start, totals, by-status × 4 (RECORDING_STATUSES order)
-- ARGV: the index's key prefix (the keys of each recording and camera are built from it, as BullMQ
--       builds a job's keys from its queue's), allowed statuses ("a,b" or ""), then id, device_sn pairs.
-- Returns one reply per id, in order: {"ok", bytes it held} | {"not_found"} | {"conflict", status}.
local STATUSES = {'recording', 'completed', 'failed', 'missing'}
local prefix, allowedList = ARGV[1], ARGV[2]
local allowed = {}
for s in string.gmatch(allowedList, '[^,]+') do allowed[s] = true end

local replies, deleted, cameras, order = {}, {}, {}, {}
local totalBytes = 0
for i = 3, #ARGV, 2 do
  local id, sn = ARGV[i], ARGV[i + 1]
  local item = prefix .. ':item:' .. id
  local current = redis.call('HMGET', item, 'status', 'bytes')
  local status = current[1]
  if not status and redis.call('EXISTS', item) == 0 then
    replies[#replies + 1] = {'not_found'}
  elseif allowedList ~= '' and not allowed[status] then
    replies[#replies + 1] = {'conflict', status or ''}
  else
    local bytes = tonumber(current[2]) or 0
    redis.call('DEL', item)
    replies[#replies + 1] = {'ok', bytes}
    deleted[#deleted + 1] = id
    totalBytes = totalBytes + bytes
    local camera = cameras[sn]
    if not camera then
      camera = {ids = {}, bytes = 0}
      cameras[sn] = camera
      order[#order + 1] = sn
    end
    camera.ids[#camera.ids + 1] = id
    camera.bytes = camera.bytes + bytes
  end
end
if #deleted == 0 then return replies end

redis.call('ZREM', KEYS[1], unpack(deleted))
for i = 3, 6 do redis.call('ZREM', KEYS[i], unpack(deleted)) end
-- Totals as write-recording-12.lua keeps them; %d because Lua writes large numbers as 1e+15.
redis.call('HINCRBY', KEYS[2], 'count', string.format('%d', -#deleted))
if totalBytes ~= 0 then redis.call('HINCRBY', KEYS[2], 'bytes', string.format('%d', -totalBytes)) end
for _, sn in ipairs(order) do
  local camera = cameras[sn]
  redis.call('ZREM', prefix .. ':by-camera:' .. sn, unpack(camera.ids))
  for _, s in ipairs(STATUSES) do
    redis.call('ZREM', prefix .. ':by-camera-status:' .. sn .. ':' .. s, unpack(camera.ids))
  end
  local countField, bytesField = 'count:' .. sn, 'bytes:' .. sn
  if redis.call('HINCRBY', KEYS[2], countField, string.format('%d', -#camera.ids)) <= 0 then
    redis.call('HDEL', KEYS[2], countField, bytesField)
  elseif camera.bytes ~= 0 then
    redis.call('HINCRBY', KEYS[2], bytesField, string.format('%d', -camera.bytes))
  end
end
return replies
