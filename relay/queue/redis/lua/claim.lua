-- ARGV: stream, consumer, min_idle_ms, cursor, count, maxd, now, mode, sources...
-- Takes over leases whose visibility ran out (and recreates a lost group).
-- Returns {next cursor, leased, poisoned, 1 if the group had to be created}.
drain()
local s = ARGV[1]
local created = ensure(s)
local r = redis.call('XAUTOCLAIM', s, G, ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local res = mark(s, entries_of(r[2]), tonumber(ARGV[5]), ARGV[8], set_of(9),
  tonumber(ARGV[6]), ARGV[7])
return {r[1], res[1], res[2], created and 1 or 0}
