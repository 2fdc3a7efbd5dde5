--[[
  fleet_reserve: drop expired worker tokens, then add up to ARGV[2] new ones without the live
  count passing the cap, so overlapping pollers never invoke more workers than NUM_WORKERS.

  Input:
    KEYS[1]  {p}:fleet  (ZSET)  worker tokens, score = ms after which a token no longer counts
    ARGV[1]  cap   ARGV[2] wanted   ARGV[3] reservation ms   ARGV[4..] the new tokens
  Output: the tokens reserved.
]]
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local live = redis.call('ZCARD', KEYS[1])
local n = math.min(tonumber(ARGV[2]), tonumber(ARGV[1]) - live)
local out = {}
for i = 1, n do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[3 + i])
  out[i] = ARGV[3 + i]
end
redis.call('PEXPIRE', KEYS[1], 3600000)
return out
