-- ARGV: since ('' = no bound), until ('' = no bound), last 4 ('' = any), limit, sources...
-- (none: every source). Per source, the newest ``limit`` records received in [since, until)
-- whose number ends in ``last 4``, looking at SCAN_CAP records per source at most:
-- {queue id, source, dial_id, received_at, last 4, events, '', dead id, settled at} each.
local lo = ARGV[1] ~= '' and ARGV[1] or '-inf'
local hi = ARGV[2] ~= '' and ('(' .. ARGV[2]) or '+inf'
local limit = tonumber(ARGV[4])
local sources = {}
for i = 5, #ARGV do table.insert(sources, ARGV[i]) end
if #sources == 0 then sources = redis.call('SMEMBERS', B .. ':hsources') end
local out = {}
for _, src in ipairs(sources) do
  local found, offset = 0, 0
  while found < limit and offset < SCAN_CAP do
    local qs = redis.call('ZRANGE', B .. ':hsrc:' .. src, hi, lo, 'BYSCORE', 'REV',
      'LIMIT', offset, 200)
    if #qs == 0 then break end
    for _, q in ipairs(qs) do
      local f = hist_read(q)
      if f and found < limit and (ARGV[3] == '' or ARGV[3] == f.n) then
        table.insert(out, {q, f.s, f.i, f.r, f.n or '', f.h, '', f.dd or '', f.t or ''})
        found = found + 1
      end
    end
    offset = offset + #qs
  end
end
return out
