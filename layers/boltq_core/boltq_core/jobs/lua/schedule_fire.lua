--[[
  schedule_fire: one occurrence of a schedule - exactly once, whatever the number of
  promoters. The caller read the schedule (its version and next run), planned the occurrence
  and the run after it; the plan is carried out only when the schedule is still as read
  (same version, same next run, not paused), so a second promoter's identical plan, or one
  resent after a lost reply, is refused as stale. The job's id is derived from the schedule
  and the occurrence time: a job already stored under it is not made again.

  Input:
    KEYS[1..34]  the namespace layout (includes/common.lua)
    KEYS[35]     sched:<name> (HASH, see schedule_save)
    KEYS[36]     schedules:due (ZSET)
    KEYS[37]     sched_recent:<name> (LIST) "<ms>:<job id>[:t]", newest first, capped
    KEYS[38]     job:<id> of the occurrence's job
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      mode: 'due' (make the occurrence's job), 'skip' (advance only: a missed
                 occurrence under catch_up 'skip'), 'trigger' (a job now; the plan untouched)
    ARGV[6]      version read   ARGV[7] occurrence ms (the next run read; trigger: ignored)
    ARGV[8]      the following run ms (-1 = none left)   ARGV[9] max runs (0 = no cap)
    ARGV[10]     how many recent occurrences to keep
    ARGV[11]     job id   ARGV[12] job type   ARGV[13] data (JSON)
    ARGV[14]     "priority:max_attempts:timeout s[:group]"   ARGV[15] name
    ARGV[16]     the occurrence the job is made for (ms): ARGV[7], or under catch_up 'one' /
                 'skip' after a downtime the latest missed one (trigger: ignored, now)
  Output: {made (0|1), job status or 'stale' / 'skipped' / 'missing', next run ms (-1 = none)}
  Events: the job's 'pending'.
]]
--@include create_job

local skey, due, recent, jkey = KEYS[KEY0 + 1], KEYS[KEY0 + 2], KEYS[KEY0 + 3], KEYS[KEY0 + 4]
local mode, ver, occ = ARGV[ARG0 + 1], ARGV[ARG0 + 2], ARGV[ARG0 + 3]
local following, max_runs = tonumber(ARGV[ARG0 + 4]), tonumber(ARGV[ARG0 + 5])
local keep = tonumber(ARGV[ARG0 + 6])
local id, jtype, data, meta, name = ARGV[ARG0 + 7], ARGV[ARG0 + 8], ARGV[ARG0 + 9],
  ARGV[ARG0 + 10], ARGV[ARG0 + 11]
local at = ARGV[ARG0 + 12]

local s = rcall('HMGET', skey, 'ver', 'next', 'paused', 'runs')
if not s[1] then return {0, 'missing', -1} end
if mode == 'trigger' then
  at = string.format('%d', NOW)
elseif s[1] ~= ver or s[2] ~= occ or s[3] == '1' then
  return {0, 'stale', tonumber(s[2]) or -1}
end

-- the plan: the next run, or none when the runs or the occurrences are used up
local runs = tonumber(s[4] or 0)
if mode == 'due' then runs = runs + 1 end
if mode ~= 'trigger' then
  if following < 0 or (max_runs > 0 and runs >= max_runs) then
    rcall('HSET', skey, 'next', '', 'runs', runs)
    rcall('ZREM', due, name)
    following = -1
  else
    rcall('HSET', skey, 'next', following, 'runs', runs)
    rcall('ZADD', due, following, name)
  end
else
  following = tonumber(s[2]) or -1
end
if mode == 'skip' then return {0, 'skipped', following} end

local status = rcall('HGET', jkey, 'status')
local made = 0
if not status then
  local prio, attempts, timeout, group = string.match(meta, '^(%d):(%d+):(%d+):?(.*)$')
  local seq = rcall('INCR', key.seq)
  status = create_job(jkey, id, jtype, prio, NOW, seq, {'data', data, 'max_attempts', attempts,
    'timeout', timeout, 'sched', name, 'sfor', at}, group)
  made = 1
end
rcall('HSET', skey, 'last', at)
local entry = at .. ':' .. id
if mode == 'trigger' then entry = entry .. ':t' end
rcall('LPUSH', recent, entry)
rcall('LTRIM', recent, 0, keep - 1)
wake_if_needed()
return {made, status, following}
