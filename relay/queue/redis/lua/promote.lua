-- ARGV: now, limit. Moves due delayed dials back into their lane. Returns {moved, next due}.
drain()
local items = redis.call('ZRANGE', B .. ':delayed', '-inf', ARGV[1], 'BYSCORE',
  'LIMIT', 0, tonumber(ARGV[2]), 'WITHSCORES')
for i = 1, #items, 2 do
  local q = items[i]
  local f = redis.call('HMGET', dial_key(q), 's', 'l')
  redis.call('ZREM', B .. ':delayed', q)
  if f[1] then
    redis.call('ZREM', B .. ':delayed:' .. f[1], q)
    push(q, f[2], items[i + 1])
  end
end
local nxt = redis.call('ZRANGE', B .. ':delayed', 0, 0, 'WITHSCORES')
return {#items / 2, nxt[2] or ''}
