-- ARGV: source, dial_id, payload, lane, received_at, due, kind, window_ms, window_s
-- KEYS[2]: the dedupe marker. Returns the queue id, or 0 when the dial was seen in the window.
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
