--[[
  finish: record the outcome of a batch of attempts. Each outcome is one transition
  (includes/transitions.lua): completed, retrying (or dead-letter when attempts are used up),
  failed (dead-letter now) or cancelled. An outcome is accepted only from the holder of the
  current attempt: a worker whose lease expired and whose job was claimed again gets 'stale'.
  A job asked to cancel while running ends 'cancelled' whatever its processor returned; one
  whose processor raised RateLimited ('l') goes back to the front of its group, its attempt not
  charged, and its group waits (includes/groups.lua).

  Input:
    KEYS[1..34]  the namespace layout (includes/common.lua)
    KEYS[35..]   job:<id> for each outcome
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      n
    ARGV[6..]    7 fields per outcome: job id, attempt, kind ('c' completed | 'r' retry |
                 'f' fail | 'x' cancelled | 'l' rate limited), result JSON ('c'), error
                 category and message ('r', 'f', 'l'), delay ms before the next attempt ('r')
                 or the group's wait ('l')
  Output: per outcome the job's new status, or 'stale'.
  Events: the new status of each job (like ones in a row share an entry); workflow changes.
]]
--@include transitions

-- The transition of one accepted outcome (its fields from ARGV[a]); the job's new status.
local function record(jkey, id, job, a)
  local kind = ARGV[a + 2]
  if job.cancel or kind == 'x' then
    to_cancelled(jkey, id, job)
    return 'cancelled'
  elseif kind == 'c' then
    to_completed(jkey, id, job, ARGV[a + 3])
    return 'completed'
  elseif kind == 'r' then
    return to_retrying(jkey, id, job, ARGV[a + 4], ARGV[a + 5], tonumber(ARGV[a + 6]))
  elseif kind == 'l' then
    return to_rate_limited(jkey, id, job, ARGV[a + 5], tonumber(ARGV[a + 6]))
  end
  to_dlq(jkey, id, job, ARGV[a + 4], ARGV[a + 5])
  return 'failed'
end

local n = tonumber(ARGV[ARG0 + 1])
local out = {}
if n > 1 then batch_begin() end
for i = 0, n - 1 do
  local a = ARG0 + 2 + i * 7
  local id, attempt = ARGV[a], tonumber(ARGV[a + 1])
  local jkey = KEYS[KEY0 + 1 + i]
  local job = job_meta(jkey)
  if not job or job.status ~= 'running' or job.attempts ~= attempt
      or rcall('ZREM', key.active, id) == 0 then
    out[#out + 1] = 'stale'
  else
    group_ended(job.group)
    out[#out + 1] = record(jkey, id, job, a)
  end
end
batch_flush()
wake_if_needed()
return out
