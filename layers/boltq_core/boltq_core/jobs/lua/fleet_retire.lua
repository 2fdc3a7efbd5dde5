--[[
  fleet_retire: a worker with spare capacity leaves the fleet, unless it is the last live one,
  so a fleet scaled up for a burst shrinks one worker at a time and never to zero by itself.

  Input:
    KEYS[1]  {p}:fleet  (ZSET)  worker tokens, score = ms after which a token no longer counts
    ARGV[1]  the retiring worker's token
  Output: 1 when the token left the fleet, 0 when it stays (last one, or not a member).
]]
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) > 1 and redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
