-- ARGV: kind ('dead' or 'rejected'), history event, now, ids. Deletes records; returns how
-- many existed. A purged dead letter's history (if any) is settled at ``now``.
drain()
local n = 0
for i = 4, #ARGV do
  local k = B .. ':' .. ARGV[1] .. ':' .. ARGV[i]
  local q = ARGV[1] == 'dead' and redis.call('HGET', k, 'q')
  local raw = q and redis.call('GET', hist_key(q))
  if raw then
    local rec = unpack_record(raw)
    if rec.dd == ARGV[i] then
      rec.dd, rec.h, rec.t = '', rec.h .. ARGV[2], ARGV[3]
      redis.call('SET', hist_key(q), pack(rec))
      redis.call('RPUSH', B .. ':hdone', q)
    end
  end
  n = n + redis.call('DEL', k)
  redis.call('ZREM', B .. ':' .. ARGV[1], ARGV[i])
end
return n
