-- ARGV: before, cap. Drops the history of dials settled before ``before``, oldest settled
-- first (the head of B:hdone; it stops at the first one settled later: clocks of replicas
-- that differ delay a record by as much), at most ``cap`` per call (call again for more).
-- Returns how many went.
drain()
local done, before = B .. ':hdone', tonumber(ARGV[1])
local n = 0
while n < tonumber(ARGV[2]) do
  local q = redis.call('LINDEX', done, 0)
  if not q then break end
  local raw = redis.call('GET', hist_key(q))
  if raw then
    local rec = unpack_record(raw)
    if tonumber(rec.t) and tonumber(rec.t) >= before then break end
    hist_unindex(q, rec.s, rec.i)
    redis.call('DEL', hist_key(q))
  end
  redis.call('LPOP', done)
  n = n + 1
end
return n
