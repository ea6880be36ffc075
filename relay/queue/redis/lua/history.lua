-- ARGV: dial_id, source ('' = any). The history records of dial_id: {queue id, source,
-- dial_id, received_at, last 4, events, payload, dead id, settled at} each, in arrival order.
local out = {}
local ids = redis.call('HGET', B .. ':hid', ARGV[1])
if not ids then return out end
for q in string.gmatch(ids, '%S+') do
  local f = hist_read(q)
  if f and (ARGV[2] == '' or ARGV[2] == f.s) then
    local p = f.p
    if (not p or p == '') and f.dd and f.dd ~= '' then
      p = redis.call('HGET', B .. ':dead:' .. f.dd, 'p')
    end
    table.insert(out, {q, f.s, f.i, f.r, f.n or '', f.h, p or '', f.dd or '', f.t or ''})
  end
end
return out
