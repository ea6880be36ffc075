-- ARGV: now, all ('1' or '0'), sources... Delayed dials (of the sources) are due now.
drain()
local now = ARGV[1]
local n = 0
local function move(key)
  for _, q in ipairs(redis.call('ZRANGE', key, '(' .. now, '+inf', 'BYSCORE')) do
    local f = redis.call('HMGET', dial_key(q), 's', 'l')
    local held = f[1] and held_until(q, now)
    if held then
      add_delayed(q, f[1], held)  -- a held first leg: due at the end of its window
    elseif f[1] then
      remove_delayed(q, f[1])
      push(q, f[2], now)
      n = n + 1
    else
      redis.call('ZREM', key, q)
    end
  end
end
if ARGV[2] == '1' then
  move(B .. ':delayed')
else
  for i = 3, #ARGV do move(B .. ':delayed:' .. ARGV[i]) end
end
return n
