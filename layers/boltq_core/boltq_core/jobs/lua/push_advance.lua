--[[
  push_advance: move the pusher's stream cursor forward (never back), so overlapping pushers
  continue where the furthest one stopped.

  Input:
    KEYS[1]  {p}:ws:cursor  (STRING)  the last events-stream id pushed
    ARGV[1]  the new stream id ("ms-seq")
  Output: 1 when moved, 0 when the stored cursor was already at or past ARGV[1].
]]
local c = redis.call('GET', KEYS[1])
if c then
  local a1, a2 = string.match(c, '(%d+)-(%d+)')
  local b1, b2 = string.match(ARGV[1], '(%d+)-(%d+)')
  a1, a2, b1, b2 = tonumber(a1), tonumber(a2), tonumber(b1), tonumber(b2)
  if b1 < a1 or (b1 == a1 and b2 <= a2) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', 86400000)
return 1
