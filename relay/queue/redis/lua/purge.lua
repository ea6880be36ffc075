-- ARGV: kind ('dead' or 'rejected'), ids. Deletes records; returns how many existed.
drain()
local n = 0
for i = 2, #ARGV do
  n = n + redis.call('DEL', B .. ':' .. ARGV[1] .. ':' .. ARGV[i])
  redis.call('ZREM', B .. ':' .. ARGV[1], ARGV[i])
end
return n
