-- ARGV: queue ids. Removes delivered dials (XACK + XDEL of their entries).
drain()
local n = 0
for _, q in ipairs(ARGV) do
  local h = dial_key(q)
  local src = redis.call('HGET', h, 's')
  if src then forget(q, h, src); n = n + 1 end
end
return n
