-- Shared by every script: it is prepended to each one (scripts.py).
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
-- Remember a dial id (its marker ``seen``) until ``now + window_s``, the marker holding its own
-- expiry so that each entry keeps its window (a long backfill window is not cut short by a
-- later, shorter live one); false when it is remembered already. A window of 0 remembers
-- nothing.
local function remember(seen, now, window_ms, window_s)
  if tonumber(window_ms) <= 0 then return true end
  local expires = string.format('%.6f', now + tonumber(window_s))
  if redis.call('SET', seen, expires, 'NX', 'PX', window_ms) then return true end
  local until_ = tonumber(redis.call('GET', seen) or '')
  if until_ and until_ > now then return false end
  redis.call('SET', seen, expires, 'PX', window_ms)
  return true
end
-- The end of q's window while it is a held first leg (``hold``) at ``now``, else nil: no
-- probe or release takes it before then.
local function held_until(q, now)
  local u = redis.call('ZSCORE', B .. ':holding', q)
  if u and tonumber(u) > tonumber(now) then return u end
  return nil
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
-- A dial's history (relay.queue.history): while the dial is queued, its events ``h`` and the
-- last 4 digits of its number ``n`` are two more fields of its hash; when it leaves the queue
-- they become B:hist:<q>, one string (``pack``: less memory than a hash holding a payload).
-- Indexed by dial_id (B:hid: dial_id -> queue ids, space separated) and by source and arrival
-- (B:hsrc:<source>, sources in B:hsources); a settled record's id is appended to the list
-- B:hdone (settle order), from whose head trim_history drops what is past the retention.
local function hist_key(q) return B .. ':hist:' .. q end
local REC = {'s', 'i', 'r', 'n', 'h', 'p', 'dd', 't'}
-- A record as one string: each field (source, dial_id, received_at, last 4, events, payload,
-- dead letter id, settled at; '' for none) as <length>:<bytes>, in the order of REC.
local function pack(f)
  local parts = {}
  for k, name in ipairs(REC) do
    local v = f[name] or ''
    parts[k] = #v .. ':' .. v
  end
  return table.concat(parts)
end
local function unpack_record(raw)
  local f, pos = {}, 1
  for _, name in ipairs(REC) do
    local colon = string.find(raw, ':', pos, true)
    if not colon then break end
    local len = tonumber(string.sub(raw, pos, colon - 1))
    f[name] = string.sub(raw, colon + 1, colon + len)
    pos = colon + len + 1
  end
  return f
end
-- q's history as a table of REC fields: from its dial hash while queued, else its record.
local function hist_read(q)
  local f = redis.call('HMGET', dial_key(q), 's', 'i', 'r', 'n', 'h', 'p')
  if f[5] then return {s = f[1], i = f[2], r = f[3], n = f[4] or '', h = f[5], p = f[6]} end
  local raw = redis.call('GET', hist_key(q))
  if raw then return unpack_record(raw) end
  return nil
end
local function hist_index(q, src, dial_id, received)
  local ids = redis.call('HGET', B .. ':hid', dial_id)
  redis.call('HSET', B .. ':hid', dial_id, ids and (ids .. ' ' .. q) or q)
  redis.call('ZADD', B .. ':hsrc:' .. src, received, q)
  redis.call('SADD', B .. ':hsources', src)
end
local function hist_unindex(q, src, dial_id)
  local ids = redis.call('HGET', B .. ':hid', dial_id)
  if ids then
    local rest = {}
    for x in string.gmatch(ids, '%S+') do if x ~= q then table.insert(rest, x) end end
    if #rest == 0 then redis.call('HDEL', B .. ':hid', dial_id)
    else redis.call('HSET', B .. ':hid', dial_id, table.concat(rest, ' ')) end
  end
  local z = B .. ':hsrc:' .. src
  redis.call('ZREM', z, q)
  if redis.call('ZCARD', z) == 0 then redis.call('SREM', B .. ':hsources', src) end
end
-- Append ``event`` to the history of a queued dial (hash ``h``), if it keeps one.
local function note(h, event)
  if event == '' then return end
  local e = redis.call('HGET', h, 'h')
  if e then redis.call('HSET', h, 'h', e .. event) end
end
-- ``event`` (history: the first one, '' for none) and ``last4`` start the dial's history.
local function store(src, dial_id, payload, lane, received, kind, event, last4)
  local q = new_qid()
  local h = dial_key(q)
  redis.call('HSET', h, 's', src, 'i', dial_id, 'p', payload, 'l', lane,
    'r', received, 'k', kind, 'a', '0')
  if event and event ~= '' then
    redis.call('HSET', h, 'h', event, 'n', last4)
    hist_index(q, src, dial_id, received)
  end
  redis.call('ZADD', B .. ':index', received, q)
  redis.call('HINCRBY', B .. ':count', src, 1)
  return q
end
local function unqueue(q, h, src)
  unlease(h)
  remove_delayed(q, src)
  redis.call('ZREM', B .. ':index', q)
  if redis.call('HINCRBY', B .. ':count', src, -1) <= 0 then
    redis.call('HDEL', B .. ':count', src)
  end
end
local function forget(q, h, src)
  unqueue(q, h, src)
  redis.call('DEL', h)
end
-- q leaves the queue, delivered at ``now`` or to the dead letter ``dead_id``: its history (if
-- it keeps one) stays, with ``event`` appended: the payload as sent, or (a dead letter, which
-- holds the payload) the dead letter's id.
local function leave(q, h, src, event, now, dead_id)
  local f = redis.call('HMGET', h, 'i', 'r', 'n', 'h', 'p')
  if not f[4] then return forget(q, h, src) end
  unqueue(q, h, src)
  local rec = {s = src, i = f[1], r = f[2], n = f[3], h = f[4] .. event}
  if dead_id then
    rec.dd = dead_id
  else
    rec.p, rec.t = f[5], now
    redis.call('RPUSH', B .. ':hdone', q)
  end
  redis.call('SET', hist_key(q), pack(rec))
  redis.call('DEL', h)
end
-- ``event``: the history's events (nil: composed here, e.g. for poison).
local function dead(q, h, src, reason, status, body, now, event)
  local f = redis.call('HMGET', h, 'i', 'p', 'a', 'r', 'k')
  local d = string.format('%d', redis.call('INCR', B .. ':seq:dead'))
  redis.call('HSET', B .. ':dead:' .. d, 's', src, 'i', f[1] or '', 'p', f[2] or '',
    'a', f[3] or '0', 'r', f[4] or '0', 'k', f[5] or 'dial', 't', now, 'why', reason,
    'st', status, 'b', body, 'q', q)
  redis.call('ZADD', B .. ':dead', d, d)
  leave(q, h, src, event or ('["x",' .. now .. ',"' .. reason .. '",null]\n'), now, d)
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
