-- ARGV: queue id, reason, status ('' = none), response body, now, history events.
drain()
local h = dial_key(ARGV[1])
local src = redis.call('HGET', h, 's')
if not src then return 0 end
return dead(ARGV[1], h, src, ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
