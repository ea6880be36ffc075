-- Returns {earliest delayed due, first unread due of lane 0, of lane 1, max idle ms of leases}.
local out = {}
local z = redis.call('ZRANGE', B .. ':delayed', 0, 0, 'WITHSCORES')
out[1] = z[2] or ''
for i, lane in ipairs({0, 1}) do
  local e = entries_of(unread(lane_stream(lane), 1))
  out[i + 1] = (e[1] and e[1][3]) or ''
end
local idle = -1
for _, s in ipairs({lane_stream(0), lane_stream(1), DIRECT}) do
  local p = redis.pcall('XPENDING', s, G, '-', '+', 10)
  if type(p) == 'table' and not p.err then
    for _, e in ipairs(p) do idle = math.max(idle, tonumber(e[3])) end
  end
end
out[4] = tostring(idle)
return out
