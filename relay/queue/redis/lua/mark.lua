-- ARGV: stream, cap, maxd, now, mode, nsources, sources..., then eid, q, due per entry.
drain()
local nsrc = tonumber(ARGV[6])
local set = {}
for i = 7, 6 + nsrc do set[ARGV[i]] = true end
local entries = {}
for i = 7 + nsrc, #ARGV, 3 do table.insert(entries, {ARGV[i], ARGV[i + 1], ARGV[i + 2]}) end
ensure(ARGV[1])
return mark(ARGV[1], entries, tonumber(ARGV[2]), ARGV[5], set, tonumber(ARGV[3]), ARGV[4])
