--[[
  finish: record the outcome of a batch of attempts. Each outcome is one transition
  (includes/transitions.lua): completed, retrying (or dead-letter when attempts are used up),
  failed (dead-letter now) or cancelled. An outcome is accepted only from the holder of the
  current attempt: a worker whose lease expired and whose job was claimed again gets 'stale'.
  A job asked to cancel while running ends 'cancelled' whatever its processor returned.

  Input:
    KEYS[1..23]  the namespace layout (includes/common.lua)
    KEYS[24..]   job:<id> for each outcome
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      n
    ARGV[6..]    7 fields per outcome: job id, attempt, kind ('c' completed | 'r' retry |
                 'f' fail | 'x' cancelled), result JSON ('c'), error category and message
                 ('r', 'f'), delay ms before the next attempt ('r')
  Output: per outcome the job's new status, or 'stale'.
  Events: the new status of each job; workflow changes.
]]
--@include transitions

local n = tonumber(ARGV[ARG0 + 1])
local out = {}
for i = 0, n - 1 do
  local a = ARG0 + 2 + i * 7
  local id, attempt, kind = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 2]
  local jkey = KEYS[KEY0 + 1 + i]
  local job = job_meta(jkey)
  if not job or job.status ~= 'running' or job.attempts ~= attempt
      or rcall('ZREM', key.active, id) == 0 then
    out[#out + 1] = 'stale'
  elseif job.cancel then
    to_cancelled(jkey, id, job)
    out[#out + 1] = 'cancelled'
  elseif kind == 'c' then
    to_completed(jkey, id, job, ARGV[a + 3])
    out[#out + 1] = 'completed'
  elseif kind == 'r' then
    out[#out + 1] = to_retrying(jkey, id, job, ARGV[a + 4], ARGV[a + 5], tonumber(ARGV[a + 6]))
  elseif kind == 'f' then
    to_dlq(jkey, id, job, ARGV[a + 4], ARGV[a + 5])
    out[#out + 1] = 'failed'
  else
    to_cancelled(jkey, id, job)
    out[#out + 1] = 'cancelled'
  end
end
wake_if_needed()
return out
