-- ARGV: now. Returns {ready, delayed, leased, dead, rejected, oldest, source, count, ...}.
local now = ARGV[1]
local unread, leased = 0, 0
for _, s in ipairs({lane_stream(0), lane_stream(1), DIRECT}) do
  local len = redis.call('XLEN', s)
  local p = redis.pcall('XPENDING', s, G)
  local pending = 0
  if type(p) == 'table' and not p.err then pending = tonumber(p[1]) end
  unread = unread + len - pending
  leased = leased + pending
end
local due = redis.call('ZCOUNT', B .. ':delayed', '-inf', now)
local later = redis.call('ZCOUNT', B .. ':delayed', '(' .. now, '+inf')
local oldest = redis.call('ZRANGE', B .. ':index', 0, 0, 'WITHSCORES')
local out = {unread + due, later, leased, redis.call('ZCARD', B .. ':dead'),
  redis.call('ZCARD', B .. ':rejected'), oldest[2] or ''}
for _, v in ipairs(redis.call('HGETALL', B .. ':count')) do table.insert(out, v) end
return out
