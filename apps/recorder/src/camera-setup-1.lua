-- KEYS[1] camera. ARGV: 1 recording id.
-- Marks the recording's start complete (index entry, webhook, session job), only while it is still
-- the camera's recording: a stopped one must not be marked again.
if redis.call('HGET', KEYS[1], 'recording_id') == ARGV[1] then redis.call('HSET', KEYS[1], 'setup', '1') end
