-- ARGV: queue id, payload, kind.
drain()
local h = dial_key(ARGV[1])
if redis.call('EXISTS', h) == 0 then return 0 end
redis.call('HSET', h, 'p', ARGV[2], 'k', ARGV[3])
return 1
