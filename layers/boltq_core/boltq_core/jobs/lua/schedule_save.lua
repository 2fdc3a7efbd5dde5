--[[
  schedule_save: create or replace a schedule by name. A replacement keeps its history (runs,
  last run, recent occurrences) and its paused state; its version moves on, so an occurrence
  planned against the old spec is refused as stale (schedule_fire).

  Input:
    KEYS[1..23]  the namespace layout (includes/common.lua)
    KEYS[24]     sched:<name> (HASH) the schedule: spec (JSON), next (ms, '' = none), last
                 (ms), runs, paused ('1'), ver, created, updated (ms)
    KEYS[25]     schedules (ZSET) every name, score 0
    KEYS[26]     schedules:due (ZSET) name -> next run ms, for the unpaused ones with a next
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      name   ARGV[6] spec (JSON)   ARGV[7] next run ms (-1 = none)
  Output: {next run ms (-1 = none: paused or no occurrence left), created (0|1)}
  Events: 's' <name> 'scheduled' (wakes the promoter, which plans the next occurrence).
]]
--@include common

local skey, names, due = KEYS[KEY0 + 1], KEYS[KEY0 + 2], KEYS[KEY0 + 3]
local name, spec, nxt = ARGV[ARG0 + 1], ARGV[ARG0 + 2], tonumber(ARGV[ARG0 + 3])
local created = rcall('EXISTS', skey) == 0
local fields = {'spec', spec, 'updated', NOW, 'next', ''}
if nxt >= 0 then fields[6] = nxt end
if created then
  for _, v in ipairs({'created', NOW, 'runs', 0}) do fields[#fields + 1] = v end
end
rcall('HSET', skey, unpack(fields))
rcall('HINCRBY', skey, 'ver', 1)
rcall('ZADD', names, 0, name)
local paused = rcall('HGET', skey, 'paused') == '1'
if nxt >= 0 and not paused then
  rcall('ZADD', due, nxt, name)
else
  rcall('ZREM', due, name)
  nxt = -1
end
emit('s', name, nil, 'scheduled', '')
return {nxt, created and 1 or 0}
