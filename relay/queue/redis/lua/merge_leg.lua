-- ARGV: queue id, version, payload, now, history event. KEYS[2]: the call's held leg (see hold.lua).
-- Swaps the held dial's payload for ``payload`` (the legs merged) unless another leg merged
-- since ``version`` was read. Returns {1} (merged), {2, payload, version} (another leg came
-- first: merge onto this one and try again), or {0} (the window has closed or the dial is
-- leased: a duplicate).
local h = redis.call('HMGET', KEYS[2], 'q', 'u', 'v')
if h[1] ~= ARGV[1] or tonumber(h[2]) <= tonumber(ARGV[4]) then return {0} end
local d = dial_key(ARGV[1])
local f = redis.call('HMGET', d, 'p', 'e')
if not f[1] or f[2] then return {0} end
if h[3] ~= ARGV[2] then return {2, f[1], h[3]} end
redis.call('HSET', d, 'p', ARGV[3])
note(d, ARGV[5])
redis.call('HINCRBY', KEYS[2], 'v', 1)
return {1}
