"""The Lua scripts behind ``RedisStreamQueue``: every multi-key change is one atomic script.

Each script gets ``KEYS[1]`` = the key base (``{relay}``; the braces are a hash tag, so every
key lives in one slot) and builds the other key names from it. Layout (docs/redis.md):

``B:stream:0`` / ``B:stream:1``  live and backfill lanes (entries ``q`` = queue id, ``d`` = due)
``B:stream:direct``             dials leased ahead of time (probes) straight from the delayed set
``B:dial:<q>``                  the dial: ``s`` source, ``i`` dial_id, ``p`` payload, ``l`` lane,
                                ``r`` received_at, ``k`` kind, ``a`` attempts, ``e``/``st`` the
                                entry and stream it is leased under, ``err`` the last error
``B:delayed`` + ``B:delayed:<source>``  sorted sets queue id → due time (retries, holds)
``B:index``                     sorted set queue id → received_at (oldest, totals)
``B:count``                     hash source → dials in the queue
``B:seen:<len>:<source>:<id>``  dedupe marker (its expiry time), ``SET NX PX`` the window
``B:dead`` / ``B:dead:<id>``    dead letters;  ``B:rejected`` / ``B:rejected:<id>`` rejected
``B:seq:dial|dead|rejected``    id counters (the dial counter is seeded from the clock, so ids
                                never repeat after Redis restarts empty)

A stream holds only entries that are unread or leased: an entry is deleted (``XDEL``) in the
same script that acknowledges it, so nothing is ever trimmed past an unacknowledged entry and
``XLEN - pending`` is the number of unread entries.
"""

from __future__ import annotations

__all__ = ["SCRIPTS"]

GROUP = "relay"

_PRELUDE = """
local B = KEYS[1]
local G = 'relay'
local DIRECT = B .. ':stream:direct'
local SCAN_CAP = 10000

-- A full Redis (maxmemory, noeviction) refuses a script's first write that may grow memory,
-- but not the writes after another one. Scripts that drain the queue open with drain(), a
-- write that never grows memory, so a full Redis still leases, acknowledges and dead-letters
-- (and frees itself); enqueue and add_rejected do not, so intake is refused (503).
local function drain() redis.call('DEL', B .. ':oom-gate') end
local function dial_key(q) return B .. ':dial:' .. q end
local function lane_stream(lane)
  if tonumber(lane) == 1 then return B .. ':stream:1' end
  return B .. ':stream:0'
end
local function ensure(s)
  local r = redis.pcall('XGROUP', 'CREATE', s, G, '0', 'MKSTREAM')
  return type(r) == 'table' and r.ok ~= nil
end
local function field(f, name)
  for i = 1, #f, 2 do if f[i] == name then return f[i + 1] end end
  return nil
end
local function set_of(first)
  local t = {}
  for i = first, #ARGV do t[ARGV[i]] = true end
  return t
end
local function matches(mode, set, src)
  if mode == 'x' then return not set[src] end
  if mode == 'o' then return set[src] == true end
  return true
end
local function new_qid()
  local seq = B .. ':seq:dial'
  if redis.call('EXISTS', seq) == 0 then
    local t = redis.call('TIME')
    redis.call('SET', seq, t[1] .. string.sub('00000' .. t[2], -6))
  end
  return string.format('%d', redis.call('INCR', seq))
end
local function push(q, lane, due)
  redis.call('XADD', lane_stream(lane), '*', 'q', q, 'd', due)
end
local function add_delayed(q, src, due)
  redis.call('ZADD', B .. ':delayed', due, q)
  redis.call('ZADD', B .. ':delayed:' .. src, due, q)
end
local function remove_delayed(q, src)
  redis.call('ZREM', B .. ':delayed', q)
  redis.call('ZREM', B .. ':delayed:' .. src, q)
end
local function unlease(h)
  local e = redis.call('HMGET', h, 'e', 'st')
  if e[1] then
    redis.pcall('XACK', e[2], G, e[1])
    redis.call('XDEL', e[2], e[1])
    redis.call('HDEL', h, 'e', 'st')
    return true
  end
  return false
end
local function store(src, dial_id, payload, lane, received, kind)
  local q = new_qid()
  redis.call('HSET', dial_key(q), 's', src, 'i', dial_id, 'p', payload, 'l', lane,
    'r', received, 'k', kind, 'a', '0')
  redis.call('ZADD', B .. ':index', received, q)
  redis.call('HINCRBY', B .. ':count', src, 1)
  return q
end
local function forget(q, h, src)
  unlease(h)
  remove_delayed(q, src)
  redis.call('ZREM', B .. ':index', q)
  if redis.call('HINCRBY', B .. ':count', src, -1) <= 0 then
    redis.call('HDEL', B .. ':count', src)
  end
  redis.call('DEL', h)
end
local function dead(q, h, src, reason, status, body, now)
  local f = redis.call('HMGET', h, 'i', 'p', 'a', 'r', 'k')
  local d = string.format('%d', redis.call('INCR', B .. ':seq:dead'))
  redis.call('HSET', B .. ':dead:' .. d, 's', src, 'i', f[1] or '', 'p', f[2] or '',
    'a', f[3] or '0', 'r', f[4] or '0', 'k', f[5] or 'dial', 't', now, 'why', reason,
    'st', status, 'b', body)
  redis.call('ZADD', B .. ':dead', d, d)
  forget(q, h, src)
  return d
end
local function last_delivered(s)
  local groups = redis.pcall('XINFO', 'GROUPS', s)
  if type(groups) ~= 'table' or groups.err then return nil end
  for _, g in ipairs(groups) do
    if field(g, 'name') == G then return field(g, 'last-delivered-id') end
  end
  return '0-0'
end
local function unread(s, count)
  local last = last_delivered(s)
  if not last then return {} end
  return redis.call('XRANGE', s, '(' .. last, '+', 'COUNT', count)
end
-- Lease the entries just delivered to this consumer (``{eid, q, due}`` each): skip orphans,
-- dead-letter poison (delivered more than ``maxd`` times), park what the filter or the cap
-- refuses (back in the delayed set, still due), and return the rest.
local function mark(s, entries, cap, mode, set, maxd, now)
  local out, poisoned = {}, {}
  for _, en in ipairs(entries) do
    local eid, q, due = en[1], en[2], en[3]
    local h = dial_key(q or '')
    local f = q and redis.call('HMGET', h, 's', 'i', 'p', 'r', 'k', 'l') or {}
    local src = f[1]
    if not src then
      redis.pcall('XACK', s, G, eid)
      redis.call('XDEL', s, eid)
    else
      local pend = redis.call('XPENDING', s, G, eid, eid, 1)
      local n = (pend[1] and tonumber(pend[1][4])) or 1
      if n > maxd then
        redis.call('HSET', h, 'e', eid, 'st', s)
        dead(q, h, src, 'poison', '', 'handed out ' .. n .. ' times without an outcome', now)
        table.insert(poisoned, {q, src, f[2], tostring(n)})
      elseif #out >= cap or not matches(mode, set, src) then
        redis.call('XACK', s, G, eid)
        redis.call('XDEL', s, eid)
        add_delayed(q, src, due)
      else
        local a = redis.call('HINCRBY', h, 'a', 1)
        redis.call('HSET', h, 'e', eid, 'st', s)
        table.insert(out, {q, src, f[2], f[3], tostring(a), f[4], f[5] or 'dial', f[6] or '0', due})
      end
    end
  end
  return {out, poisoned}
end
local function entries_of(list)
  local t = {}
  for _, e in ipairs(list) do
    if type(e) == 'table' and type(e[2]) == 'table' then
      table.insert(t, {e[1], field(e[2], 'q'), field(e[2], 'd') or '0'})
    end
  end
  return t
end
"""

# ARGV: source, dial_id, payload, lane, received_at, due, kind, window_ms, window_s
# KEYS[2]: the dedupe marker. Returns the queue id, or 0 when the dial was seen in the window.
_ENQUEUE = """
local now = tonumber(ARGV[5])
if tonumber(ARGV[8]) > 0 then
  -- the marker holds its own expiry (received_at + window): each entry keeps its window,
  -- so a long backfill window is not cut short by a later, shorter live one
  local expires = now + tonumber(ARGV[9])
  if not redis.call('SET', KEYS[2], string.format('%.6f', expires), 'NX', 'PX', ARGV[8]) then
    local until_ = tonumber(redis.call('GET', KEYS[2]) or '')
    if until_ and until_ > now then return 0 end
    redis.call('SET', KEYS[2], string.format('%.6f', expires), 'PX', ARGV[8])
  end
end
local q = store(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[7])
if tonumber(ARGV[6]) > now then add_delayed(q, ARGV[1], ARGV[6]) else push(q, ARGV[4], ARGV[6]) end
return q
"""

# ARGV: now, limit. Moves due delayed dials back into their lane. Returns {moved, next due}.
_PROMOTE = """
drain()
local items = redis.call('ZRANGE', B .. ':delayed', '-inf', ARGV[1], 'BYSCORE',
  'LIMIT', 0, tonumber(ARGV[2]), 'WITHSCORES')
for i = 1, #items, 2 do
  local q = items[i]
  local f = redis.call('HMGET', dial_key(q), 's', 'l')
  redis.call('ZREM', B .. ':delayed', q)
  if f[1] then
    redis.call('ZREM', B .. ':delayed:' .. f[1], q)
    push(q, f[2], items[i + 1])
  end
end
local nxt = redis.call('ZRANGE', B .. ':delayed', 0, 0, 'WITHSCORES')
return {#items / 2, nxt[2] or ''}
"""

# ARGV: stream, consumer, min_idle_ms, cursor, count, maxd, now, mode, sources...
# Takes over leases whose visibility ran out (and recreates a lost group).
# Returns {next cursor, leased, poisoned, 1 if the group had to be created}.
_CLAIM = """
drain()
local s = ARGV[1]
local created = ensure(s)
local r = redis.call('XAUTOCLAIM', s, G, ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local res = mark(s, entries_of(r[2]), tonumber(ARGV[5]), ARGV[8], set_of(9),
  tonumber(ARGV[6]), ARGV[7])
return {r[1], res[1], res[2], created and 1 or 0}
"""

# ARGV: stream, cap, maxd, now, mode, nsources, sources..., then eid, q, due per entry.
_MARK = """
drain()
local nsrc = tonumber(ARGV[6])
local set = {}
for i = 7, 6 + nsrc do set[ARGV[i]] = true end
local entries = {}
for i = 7 + nsrc, #ARGV, 3 do table.insert(entries, {ARGV[i], ARGV[i + 1], ARGV[i + 2]}) end
ensure(ARGV[1])
return mark(ARGV[1], entries, tonumber(ARGV[2]), ARGV[5], set, tonumber(ARGV[3]), ARGV[4])
"""

# ARGV: consumer, horizon, limit, maxd, now, mode, sources...
# Leases the earliest dials due by the horizon (due or not yet) matching the filter, through
# the direct stream so that they are pending like any lease. Returns {leased, poisoned}.
_TAKE = """
drain()
local horizon, limit, mode = ARGV[2], tonumber(ARGV[3]), ARGV[6]
local set = set_of(7)
local cands = {}
if mode == 'o' then
  for src, _ in pairs(set) do
    local z = redis.call('ZRANGE', B .. ':delayed:' .. src, '-inf', horizon, 'BYSCORE',
      'LIMIT', 0, limit, 'WITHSCORES')
    for i = 1, #z, 2 do table.insert(cands, {z[i], z[i + 1], false}) end
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
      if src and #cands < limit and matches(mode, set, src) then
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
"""

# ARGV: queue ids. Removes delivered dials (XACK + XDEL of their entries).
_ACK = """
drain()
local n = 0
for _, q in ipairs(ARGV) do
  local h = dial_key(q)
  local src = redis.call('HGET', h, 's')
  if src then forget(q, h, src); n = n + 1 end
end
return n
"""

# ARGV: queue id, due, error. A leased dial waits in the delayed set until due.
_RETRY = """
drain()
local h = dial_key(ARGV[1])
local src = redis.call('HGET', h, 's')
if not src then return 0 end
local leased = unlease(h)
if not leased and not redis.call('ZSCORE', B .. ':delayed', ARGV[1]) then return 0 end
redis.call('HSET', h, 'err', ARGV[3])
add_delayed(ARGV[1], src, ARGV[2])
return 1
"""

# ARGV: now, queue ids. Leased dials go back to their lane at once; the lease is not counted.
_RELEASE = """
drain()
local n = 0
for i = 2, #ARGV do
  local q = ARGV[i]
  local h = dial_key(q)
  local f = redis.call('HMGET', h, 's', 'l', 'a')
  if f[1] and unlease(h) then
    if tonumber(f[3] or '0') > 0 then redis.call('HINCRBY', h, 'a', -1) end
    push(q, f[2], ARGV[1])
    n = n + 1
  end
end
return n
"""

# ARGV: queue id, payload, kind.
_REPLACE = """
drain()
local h = dial_key(ARGV[1])
if redis.call('EXISTS', h) == 0 then return 0 end
redis.call('HSET', h, 'p', ARGV[2], 'k', ARGV[3])
return 1
"""

# ARGV: due_at, sources... Every waiting (not leased) dial of the sources is due at ``due_at``.
_DELAY_SOURCES = """
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
"""

# ARGV: now, all ('1' or '0'), sources... Delayed dials (of the sources) are due now.
_RELEASE_DELAYED = """
drain()
local now = ARGV[1]
local n = 0
local function move(key)
  for _, q in ipairs(redis.call('ZRANGE', key, '(' .. now, '+inf', 'BYSCORE')) do
    local f = redis.call('HMGET', dial_key(q), 's', 'l')
    if f[1] then
      remove_delayed(q, f[1])
      push(q, f[2], now)
      n = n + 1
    else
      redis.call('ZREM', key, q)
    end
  end
end
if ARGV[2] == '1' then
  move(B .. ':delayed')
else
  for i = 3, #ARGV do move(B .. ':delayed:' .. ARGV[i]) end
end
return n
"""

# Returns {earliest delayed due, first unread due of lane 0, of lane 1, max idle ms of leases}.
_NEXT_DUE = """
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
"""

# ARGV: now. Returns {ready, delayed, leased, dead, rejected, oldest, source, count, ...}.
_STATS = """
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
"""

# ARGV: queue id, reason, status ('' = none), response body, now.
_DEAD_LETTER = """
drain()
local h = dial_key(ARGV[1])
local src = redis.call('HGET', h, 's')
if not src then return 0 end
return dead(ARGV[1], h, src, ARGV[2], ARGV[3], ARGV[4], ARGV[5])
"""

# ARGV: now, dead-letter ids. Each goes back to the live lane, due now, attempts reset.
_REPLAY_DEAD = """
drain()
local n = 0
for i = 2, #ARGV do
  local k = B .. ':dead:' .. ARGV[i]
  local f = redis.call('HMGET', k, 's', 'i', 'p', 'r', 'k')
  if f[1] then
    local q = store(f[1], f[2], f[3], '0', f[4], f[5] or 'dial')
    push(q, '0', ARGV[1])
    redis.call('DEL', k)
    redis.call('ZREM', B .. ':dead', ARGV[i])
    n = n + 1
  end
end
return n
"""

# ARGV: kind ('dead' or 'rejected'), ids. Deletes records; returns how many existed.
_PURGE = """
drain()
local n = 0
for i = 2, #ARGV do
  n = n + redis.call('DEL', B .. ':' .. ARGV[1] .. ':' .. ARGV[i])
  redis.call('ZREM', B .. ':' .. ARGV[1], ARGV[i])
end
return n
"""

# ARGV: source, received_at, method, content_type, query json, body, problems json.
_ADD_REJECTED = """
local id = string.format('%d', redis.call('INCR', B .. ':seq:rejected'))
redis.call('HSET', B .. ':rejected:' .. id, 's', ARGV[1], 'r', ARGV[2], 'm', ARGV[3],
  'c', ARGV[4], 'q', ARGV[5], 'b', ARGV[6], 'x', ARGV[7])
redis.call('ZADD', B .. ':rejected', id, id)
return id
"""

SCRIPTS: dict[str, str] = {
    name: _PRELUDE + body
    for name, body in {
        "enqueue": _ENQUEUE,
        "promote": _PROMOTE,
        "claim": _CLAIM,
        "mark": _MARK,
        "take": _TAKE,
        "ack": _ACK,
        "retry": _RETRY,
        "release": _RELEASE,
        "replace": _REPLACE,
        "delay_sources": _DELAY_SOURCES,
        "release_delayed": _RELEASE_DELAYED,
        "next_due": _NEXT_DUE,
        "stats": _STATS,
        "dead_letter": _DEAD_LETTER,
        "replay_dead": _REPLAY_DEAD,
        "purge": _PURGE,
        "add_rejected": _ADD_REJECTED,
    }.items()
}
