--[[
  The terminal and retry transitions of a job, shared by finish, cancel, claim (lease recovery)
  and promote. `job` is job_meta(jkey). Each one updates the hash, moves the id between the
  namespace sets, bumps the counters, emits the change and advances the job's workflow.
]]
--@include workflow

local function to_completed(jkey, id, job, result)
  rcall('HSET', jkey, 'status', 'completed', 'finished', NOW, 'result', result)
  zadd_or_gather(BATCH and BATCH.completed, key.completed, NOW, id)
  rcall('PEXPIRE', jkey, config.retention)
  stat('processed', job.tl, 'completed')
  emit('j', id, job.wf, 'completed', job.type)
  if job.wf then wf_step_done(id, job, 'completed', result) end
end

local function to_cancelled(jkey, id, job)
  rcall('HSET', jkey, 'status', 'cancelled', 'finished', NOW)
  rcall('ZADD', key.cancelled, NOW, id)
  rcall('PEXPIRE', jkey, config.retention)
  stat('processed', job.tl, 'cancelled')
  emit('j', id, job.wf, 'cancelled', job.type)
  if job.wf then wf_step_done(id, job, 'cancelled') end
end

-- Dead-letter: kept (no expiry) until requeued, purged or pushed out by the size bound.
local function to_dlq(jkey, id, job, category, message)
  rcall('HSET', jkey, 'status', 'failed', 'finished', NOW, 'err_cat', category,
    'err_msg', message)
  rcall('ZADD', key.dlq, NOW, id)
  stat('processed', job.tl, 'failed')
  emit('j', id, job.wf, 'failed', job.type)
  local over = rcall('ZCARD', key.dlq) - config.dlq_max
  if over > 0 then
    local old = rcall('ZPOPMIN', key.dlq, over)
    for i = 1, #old, 2 do
      rcall('DEL', key.job .. old[i])
      rcall('ZREM', key.index, old[i])
    end
  end
  if job.wf then wf_step_done(id, job, 'failed') end
end

-- Retry after delay_ms, or dead-letter once the attempts are used up.
local function to_retrying(jkey, id, job, category, message, delay_ms)
  if out_of_attempts(job) then
    to_dlq(jkey, id, job, category, message)
    return 'failed'
  end
  rcall('HSET', jkey, 'status', 'retrying', 'err_cat', category, 'err_msg', message,
    'scheduled', NOW + delay_ms)
  -- it failed on its own: its next attempt goes with the others again
  if job.solo then rcall('HDEL', jkey, 'solo') end
  rcall('ZADD', key.retrying, NOW + delay_ms, id)
  stat('retried', job.tl)
  emit('j', id, job.wf, 'retrying', job.type)
  return 'retrying'
end

-- Its processor raised RateLimited: the job goes back to the front of its group without using
-- an attempt, and its whole group waits hold_ms (a longer hold already set stays).
local function to_rate_limited(jkey, id, job, message, hold_ms)
  rcall('HINCRBY', jkey, 'free', 1)
  rcall('HSET', jkey, 'status', 'pending', 'err_cat', 'rate_limited', 'err_msg', message)
  if job.solo then rcall('HDEL', jkey, 'solo') end
  push_ready(id, job.priority, job.group, true)
  local hkey = 'hold:' .. job.group
  local until_ms = math.max(NOW + hold_ms, tonumber(rcall('HGET', key.gstate, hkey) or 0))
  rcall('HSET', key.gstate, hkey, until_ms)
  group_park(job.group, until_ms)
  stat('rate_limited', job.tl)
  emit('j', id, job.wf, 'pending', job.type)
  return 'pending'
end

-- Cancel job `id` (job = job_meta(jkey)): a queued one at once, a running one is asked to stop
-- (it ends 'cancelled'); a finished one is left as it is. {status after, changed (0|1)}.
local function cancel_job(jkey, id, job)
  local st = job.status
  if st == 'pending' then
    unready(id, job.priority, job.group)
  elseif st == 'scheduled' then
    rcall('ZREM', key.scheduled, id)
  elseif st == 'retrying' then
    rcall('ZREM', key.retrying, id)
  elseif st == 'running' then
    if job.cancel then return {'running', 0} end
    rcall('HSET', jkey, 'cancel', '1')
    emit('j', id, job.wf, 'cancelling', job.type)
    return {'running', 1}
  else
    return {st, 0}
  end
  to_cancelled(jkey, id, job)
  return {'cancelled', 1}
end

-- Cancel a step job its workflow no longer wants (when it is still stored).
local function cancel_unwanted(jid)
  local jkey = key.job .. jid
  local job = job_meta(jkey)
  if job then cancel_job(jkey, jid, job) end
end

-- Delete a finished step job of a deleted workflow (a running one finishes, then expires).
local function forget_job(jid)
  local st = rcall('HGET', key.job .. jid, 'status')
  if st and st ~= 'running' then
    rcall('DEL', key.job .. jid)
    rcall('ZREM', key.index, jid)
    rcall('ZREM', key.completed, jid)
    rcall('ZREM', key.cancelled, jid)
    rcall('ZREM', key.dlq, jid)
  end
end
