--[[
  schedule_save: create or replace a schedule by name. A replacement keeps its history (runs,
  last run, recent occurrences) and its paused state; its version moves on, so an occurrence
  planned against the old spec is refused as stale (schedule_fire).

  Input:
    KEYS[1..34]  the namespace layout (includes/common.lua)
    KEYS[35]     sched:<name> (HASH) the schedule: spec (JSON), next (ms, '' = none), last
                 (ms), runs, paused ('1'), ver, created, updated (ms)
    KEYS[36]     schedules (ZSET) every name, score 0
    KEYS[37]     schedules:due (ZSET) name -> next run ms, for the unpaused ones with a next
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      name   ARGV[6] spec (JSON)   ARGV[7] next run ms (-1 = none)
    ARGV[8]      '' or, for a schedule moved here from another queue, the history it carries
                 over when it is created here: "<runs>:<last run ms or ''>:<paused 1|0>"
  Output: {next run ms (-1 = none: paused or no occurrence left), created (0|1)}
  Events: 's' <name> 'scheduled' (wakes the promoter, which plans the next occurrence).
]]
--@include common

local skey, names, due = KEYS[KEY0 + 1], KEYS[KEY0 + 2], KEYS[KEY0 + 3]
local name, spec, nxt = ARGV[ARG0 + 1], ARGV[ARG0 + 2], tonumber(ARGV[ARG0 + 3])
local carried = ARGV[ARG0 + 4] or ''
local created = rcall('EXISTS', skey) == 0
local fields = {'spec', spec, 'updated', NOW, 'next', ''}
if nxt >= 0 then fields[6] = nxt end
if created then
  local runs, last, was_paused = string.match(carried, '^(%d+):(%d*):([01])$')
  for _, v in ipairs({'created', NOW, 'runs', runs or 0}) do fields[#fields + 1] = v end
  if last and last ~= '' then
    fields[#fields + 1] = 'last'
    fields[#fields + 1] = last
  end
  if was_paused == '1' then
    fields[#fields + 1] = 'paused'
    fields[#fields + 1] = '1'
  end
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
