-- ARGV: now, dead-letter ids. Each goes back to the live lane, due now, attempts reset.
drain()
local n = 0
for i = 2, #ARGV do
  local k = B .. ':dead:' .. ARGV[i]
  local f = redis.call('HMGET', k, 's', 'i', 'p', 'r', 'k')
  if f[1] then
    local q = store(f[1], f[2], f[3], '0', f[4], f[5] or 'dial')
    push(q, '0', ARGV[1])
    redis.call('DEL', k)
    redis.call('ZREM', B .. ':dead', ARGV[i])
    n = n + 1
  end
end
return n
