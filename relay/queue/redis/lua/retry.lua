-- ARGV: queue id, due, error, history events. A leased dial waits in the delayed set until due.
drain()
local h = dial_key(ARGV[1])
local src = redis.call('HGET', h, 's')
if not src then return 0 end
local leased = unlease(h)
if not leased and not redis.call('ZSCORE', B .. ':delayed', ARGV[1]) then return 0 end
redis.call('HSET', h, 'err', ARGV[3])
add_delayed(ARGV[1], src, ARGV[2])
note(h, ARGV[4])
return 1
