-- ARGV: source, dial_id, payload, lane, received_at, due, kind, window_ms, window_s,
-- history's first event ('' = no history), last 4 digits of the number.
-- KEYS[2]: the dedupe marker. Returns the queue id, or 0 when the dial was seen in the window.
local now = tonumber(ARGV[5])
if not remember(KEYS[2], now, ARGV[8], ARGV[9]) then return 0 end
local q = store(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[7], ARGV[10], ARGV[11])
if tonumber(ARGV[6]) > now then add_delayed(q, ARGV[1], ARGV[6]) else push(q, ARGV[4], ARGV[6]) end
return q
