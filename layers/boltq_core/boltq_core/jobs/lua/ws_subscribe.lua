--[[
  ws_subscribe: add a topic to a WebSocket connection's subscriptions, bounded per connection.

  Input:
    KEYS[1]  {p}:ws:conn:<connection id>  (HASH)  the connection; field subs = JSON list
    KEYS[2]  {p}:ws:sub:<topic>           (SET)   connection ids subscribed to the topic
    KEYS[3]  {p}:ws:watched               (ZSET)  connection ids with a subscription,
                                                    score = ms their subscriptions expire
    ARGV[1]  topic   ARGV[2] expiry ms   ARGV[3] max topics per connection   ARGV[4] conn id
  Output: the number of topics after the call; -1 unknown connection; -2 too many topics.
]]
local function watched()
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[4])
  redis.call('PEXPIRE', KEYS[3], ARGV[2])
end

local subs = redis.call('HGET', KEYS[1], 'subs')
if not subs then return -1 end
local list = cjson.decode(subs)
for _, t in ipairs(list) do
  if t == ARGV[1] then
    redis.call('PEXPIRE', KEYS[2], ARGV[2])
    watched()
    return #list
  end
end
if #list >= tonumber(ARGV[3]) then return -2 end
table.insert(list, ARGV[1])
redis.call('HSET', KEYS[1], 'subs', cjson.encode(list))
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
watched()
return #list
