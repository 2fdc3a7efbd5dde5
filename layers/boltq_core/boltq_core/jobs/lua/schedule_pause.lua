--[[
  schedule_pause: pause a schedule (no occurrence while paused) or resume it from the given
  next run (the caller plans it from now: what fell in the pause is not caught up).

  Input:
    KEYS[1..34]  the namespace layout (includes/common.lua)
    KEYS[35]     sched:<name> (HASH, see schedule_save)   KEYS[36] schedules:due (ZSET)
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      name   ARGV[6] '1' pause, '0' resume   ARGV[7] next run ms on resume (-1 =
                 none left)
  Output: {found (0|1), next run ms (-1 = none)}
  Events: 's' <name> 'scheduled' on resume (wakes the promoter).
]]
--@include common

local skey, due = KEYS[KEY0 + 1], KEYS[KEY0 + 2]
local name, pause, nxt = ARGV[ARG0 + 1], ARGV[ARG0 + 2] == '1', tonumber(ARGV[ARG0 + 3])
if rcall('EXISTS', skey) == 0 then return {0, -1} end
if pause then
  rcall('HSET', skey, 'paused', '1', 'next', '', 'updated', NOW)
  rcall('ZREM', due, name)
  return {1, -1}
end
if rcall('HGET', skey, 'paused') ~= '1' then
  return {1, tonumber(rcall('HGET', skey, 'next')) or -1}  -- not paused: nothing changes
end
rcall('HSET', skey, 'paused', '0', 'updated', NOW)
rcall('HINCRBY', skey, 'ver', 1)
if nxt >= 0 then
  rcall('HSET', skey, 'next', nxt)
  rcall('ZADD', due, nxt, name)
  emit('s', name, nil, 'scheduled', '')
end
return {1, nxt}
