-- KEYS[1] slot. ARGV: 1 recording id, 2 lease (ms). '' when the slot is (still) this recording's.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return holder end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ''
