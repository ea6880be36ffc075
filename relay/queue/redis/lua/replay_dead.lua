-- ARGV: now, history event, dead-letter ids. Each goes back to the live lane, due now,
-- attempts reset; one with a history goes back under its first queue id (one timeline).
drain()
local n = 0
for i = 3, #ARGV do
  local k = B .. ':dead:' .. ARGV[i]
  local f = redis.call('HMGET', k, 's', 'i', 'p', 'r', 'k', 'q')
  if f[1] then
    local q = f[6]
    local raw = q and redis.call('GET', hist_key(q))
    local rec = raw and unpack_record(raw)
    if rec and rec.dd == ARGV[i] and redis.call('EXISTS', dial_key(q)) == 0 then
      redis.call('HSET', dial_key(q), 's', f[1], 'i', f[2], 'p', f[3], 'l', '0', 'r', f[4],
        'k', f[5] or 'dial', 'a', '0', 'h', rec.h .. ARGV[2], 'n', rec.n)
      redis.call('DEL', hist_key(q))
      redis.call('ZADD', B .. ':index', f[4], q)
      redis.call('HINCRBY', B .. ':count', f[1], 1)
    else
      q = store(f[1], f[2], f[3], '0', f[4], f[5] or 'dial')
    end
    push(q, '0', ARGV[1])
    redis.call('DEL', k)
    redis.call('ZREM', B .. ':dead', ARGV[i])
    n = n + 1
  end
end
return n
