-- ARGV: consumer, horizon, limit, maxd, now, mode, sources...
-- Leases the earliest dials due by the horizon (due or not yet) matching the filter, through
-- the direct stream so that they are pending like any lease. Returns {leased, poisoned}.
drain()
local horizon, limit, mode = ARGV[2], tonumber(ARGV[3]), ARGV[6]
local set = set_of(7)
local cands = {}
if mode == 'o' then
  for src, _ in pairs(set) do
    local z = redis.call('ZRANGE', B .. ':delayed:' .. src, '-inf', horizon, 'BYSCORE',
      'LIMIT', 0, limit + 64, 'WITHSCORES')
    for i = 1, #z, 2 do
      if not held_until(z[i], ARGV[5]) then table.insert(cands, {z[i], z[i + 1], false}) end
    end
  end
  for _, lane in ipairs({0, 1}) do
    local s = lane_stream(lane)
    for _, e in ipairs(entries_of(unread(s, SCAN_CAP))) do
      local src = redis.call('HGET', dial_key(e[2] or ''), 's')
      if src and set[src] then table.insert(cands, {e[2], e[3], s, e[1]}) end
    end
  end
else
  local offset = 0
  while #cands < limit and offset < SCAN_CAP do
    local z = redis.call('ZRANGE', B .. ':delayed', '-inf', horizon, 'BYSCORE',
      'LIMIT', offset, 100, 'WITHSCORES')
    if #z == 0 then break end
    for i = 1, #z, 2 do
      local src = redis.call('HGET', dial_key(z[i]), 's')
      if src and #cands < limit and matches(mode, set, src) and not held_until(z[i], ARGV[5]) then
        table.insert(cands, {z[i], z[i + 1], false})
      end
    end
    offset = offset + 100
  end
end
table.sort(cands, function(x, y) return tonumber(x[2]) < tonumber(y[2]) end)
local n = 0
for i = 1, math.min(limit, #cands) do
  local c = cands[i]
  if c[3] then
    redis.call('XDEL', c[3], c[4])
  else
    remove_delayed(c[1], redis.call('HGET', dial_key(c[1]), 's'))
  end
  redis.call('XADD', DIRECT, '*', 'q', c[1], 'd', c[2])
  n = n + 1
end
if n == 0 then return {{}, {}} end
ensure(DIRECT)
local r = redis.call('XREADGROUP', 'GROUP', G, ARGV[1], 'STREAMS', DIRECT, '>')
return mark(DIRECT, entries_of(r[1][2]), limit, '', {}, tonumber(ARGV[4]), ARGV[5])
