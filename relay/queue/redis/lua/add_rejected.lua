-- ARGV: source, received_at, method, content_type, query json, body, problems json.
local id = string.format('%d', redis.call('INCR', B .. ':seq:rejected'))
redis.call('HSET', B .. ':rejected:' .. id, 's', ARGV[1], 'r', ARGV[2], 'm', ARGV[3],
  'c', ARGV[4], 'q', ARGV[5], 'b', ARGV[6], 'x', ARGV[7])
redis.call('ZADD', B .. ':rejected', id, id)
return id
