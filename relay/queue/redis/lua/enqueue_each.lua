-- Several webhooks' ``enqueue`` in one call (intake's pipeline, pipelining.py), each on its
-- own: a dial that fails (its marker holds the wrong type, a full Redis) fails alone, the
-- others are stored. KEYS[1 + i]: dial i's dedupe marker. ARGV: 11 values per dial, as
-- ``enqueue`` takes them. Returns one reply per dial: its queue id, 0 when its id was seen
-- (a repeat in the batch included), or its own error.
local function one(i)
  local a = (i - 1) * 11
  local now = tonumber(ARGV[a + 5])
  if not remember(KEYS[i + 1], now, ARGV[a + 8], ARGV[a + 9]) then return 0 end
  local q = store(ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 7],
    ARGV[a + 10], ARGV[a + 11])
  if tonumber(ARGV[a + 6]) > now then add_delayed(q, ARGV[a + 1], ARGV[a + 6])
  else push(q, ARGV[a + 4], ARGV[a + 6]) end
  return q
end
local out = {}
for i = 1, #KEYS - 1 do
  local ok, reply = pcall(one, i)
  if ok then
    out[i] = reply
  elseif type(reply) == 'table' and reply.err then
    out[i] = reply
  else
    out[i] = {err = 'ERR ' .. tostring(reply)}
  end
end
return out
