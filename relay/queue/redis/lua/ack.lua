-- ARGV: (queue id, history events, now) per dial. Removes delivered dials (XACK + XDEL of
-- their entries); a dial's history, if it keeps one, stays (``leave``).
drain()
local n = 0
for i = 1, #ARGV, 3 do
  local q = ARGV[i]
  local h = dial_key(q)
  local src = redis.call('HGET', h, 's')
  if src then leave(q, h, src, ARGV[i + 1], ARGV[i + 2]); n = n + 1 end
end
return n
