-- ARGV: source, dial_id, payload, lane, received_at, due, kind, window_ms, window_s, until,
-- hold_ms, history's first event ('' = none), last 4 digits of the number. KEYS[2]: the dedupe marker; KEYS[3]: the call's held leg, a hash {q: queue id,
-- u: end of the window, v: how many legs merged}. A leg of a call (DeliveryQueue.coalesce):
-- while the call's first leg is held (its window open at received_at, not leased yet), the
-- answer is that dial to merge into; otherwise the leg is stored like enqueue, held in the
-- delayed set until ``due`` (never before ``until``), and indexed in B:holding.
-- Returns {1, q} (stored), {2, q, payload, version} (merge into q), or {0} (a duplicate).
local now = tonumber(ARGV[5])
local h = redis.call('HMGET', KEYS[3], 'q', 'u', 'v')
if h[1] and tonumber(h[2]) > now then
  local f = redis.call('HMGET', dial_key(h[1]), 'p', 'e')
  if f[1] and not f[2] then return {2, h[1], f[1], h[3]} end
end
if not remember(KEYS[2], now, ARGV[8], ARGV[9]) then return {0} end
local q = store(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[7], ARGV[12], ARGV[13])
add_delayed(q, ARGV[1], ARGV[6])
redis.call('HSET', KEYS[3], 'q', q, 'u', ARGV[10], 'v', '0')
redis.call('PEXPIRE', KEYS[3], ARGV[11])
redis.call('ZREMRANGEBYSCORE', B .. ':holding', '-inf', now)
redis.call('ZADD', B .. ':holding', ARGV[10], q)
return {1, q}
