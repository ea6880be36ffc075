-- A batch of dials in one script, so one atomic change: ``enqueue`` for each, in order.
-- KEYS[1 + i]: dial i's dedupe marker. ARGV: 11 values per dial, as ``enqueue`` takes them
-- (source, dial_id, payload, lane, received_at, due, kind, window_ms, window_s, history's
-- first event or '', last 4 digits of the number).
-- Returns one reply per dial: its queue id, or 0 when its id was seen (a repeat in the batch
-- included).
local out = {}
for i = 1, #KEYS - 1 do
  local a = (i - 1) * 11
  local now = tonumber(ARGV[a + 5])
  if remember(KEYS[i + 1], now, ARGV[a + 8], ARGV[a + 9]) then
    local q = store(ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 7],
      ARGV[a + 10], ARGV[a + 11])
    if tonumber(ARGV[a + 6]) > now then
      add_delayed(q, ARGV[a + 1], ARGV[a + 6])
    else
      push(q, ARGV[a + 4], ARGV[a + 6])
    end
    out[i] = q
  else
    out[i] = 0
  end
end
return out
