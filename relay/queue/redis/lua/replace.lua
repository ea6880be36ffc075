-- ARGV: queue id, payload, kind, history event, last 4 digits of the number.
drain()
local h = dial_key(ARGV[1])
if redis.call('EXISTS', h) == 0 then return 0 end
redis.call('HSET', h, 'p', ARGV[2], 'k', ARGV[3])
if redis.call('HEXISTS', h, 'h') == 1 then
  note(h, ARGV[4])
  redis.call('HSET', h, 'n', ARGV[5])
end
return 1
