-- ARGV: now, queue ids. Leased dials go back to their lane at once; the lease is not counted.
drain()
local n = 0
for i = 2, #ARGV do
  local q = ARGV[i]
  local h = dial_key(q)
  local f = redis.call('HMGET', h, 's', 'l', 'a')
  if f[1] and unlease(h) then
    if tonumber(f[3] or '0') > 0 then redis.call('HINCRBY', h, 'a', -1) end
    push(q, f[2], ARGV[1])
    n = n + 1
  end
end
return n
