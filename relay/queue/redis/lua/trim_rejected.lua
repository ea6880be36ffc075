-- ARGV: before ('' = no age limit), keep ('' = no cap). Drops the rejected records received
-- before `before` (oldest first, in arrival order: it stops at the first newer one), then the
-- oldest beyond the newest `keep`. At most SCAN_CAP records per call (call again for more).
-- Returns {dropped for age, dropped for count}; index entries of purged records are not counted.
drain()
local idx = B .. ':rejected'
local age, count, budget = 0, 0, SCAN_CAP
if ARGV[1] ~= '' then
  local before = tonumber(ARGV[1])
  local done = false
  while not done and budget > 0 do
    local ids = redis.call('ZRANGE', idx, 0, 99)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      local r = redis.call('HGET', idx .. ':' .. id, 'r')
      if r and tonumber(r) >= before then done = true; break end
      if r then age = age + redis.call('DEL', idx .. ':' .. id) end
      redis.call('ZREM', idx, id)
      budget = budget - 1
      if budget <= 0 then break end
    end
  end
end
if ARGV[2] ~= '' then
  local excess = math.min(redis.call('ZCARD', idx) - tonumber(ARGV[2]), budget)
  if excess > 0 then
    for _, id in ipairs(redis.call('ZRANGE', idx, 0, excess - 1)) do
      count = count + redis.call('DEL', idx .. ':' .. id)
    end
    redis.call('ZREMRANGEBYRANK', idx, 0, excess - 1)
  end
end
return {age, count}
