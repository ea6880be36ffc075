-- ARGV: due_at, sources... Every waiting (not leased) dial of the sources is due at ``due_at``.
drain()
local due_at = ARGV[1]
local set = set_of(2)
local n = 0
for src, _ in pairs(set) do
  local z = redis.call('ZRANGE', B .. ':delayed:' .. src, '-inf', '(' .. due_at, 'BYSCORE')
  for _, q in ipairs(z) do add_delayed(q, src, due_at); n = n + 1 end
end
for _, lane in ipairs({0, 1}) do
  local s = lane_stream(lane)
  for _, e in ipairs(entries_of(unread(s, SCAN_CAP * 100))) do
    local src = redis.call('HGET', dial_key(e[2] or ''), 's')
    if src and set[src] then
      redis.call('XDEL', s, e[1])
      add_delayed(e[2], src, due_at)
      n = n + 1
    end
  end
end
return n
