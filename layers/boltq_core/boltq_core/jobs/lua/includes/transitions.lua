--[[
  The terminal and retry transitions of a job, shared by finish, cancel, claim (lease recovery)
  and promote. `job` is job_meta(jkey). Each one updates the hash, moves the id between the
  namespace sets, bumps the counters, emits the change and advances the job's workflow.
]]
--@include workflow

local function to_completed(jkey, id, job, result)
  rcall('HSET', jkey, 'status', 'completed', 'finished', NOW, 'result', result)
  rcall('ZADD', key.completed, NOW, id)
  rcall('PEXPIRE', jkey, config.retention)
  stat('processed', job.tl, 'completed')
  emit('j', id, job.wf, 'completed', job.type)
  if job.wf then wf_step_finished(job.wf, job.step, 'completed') end
end

local function to_cancelled(jkey, id, job)
  rcall('HSET', jkey, 'status', 'cancelled', 'finished', NOW)
  rcall('ZADD', key.cancelled, NOW, id)
  rcall('PEXPIRE', jkey, config.retention)
  stat('processed', job.tl, 'cancelled')
  emit('j', id, job.wf, 'cancelled', job.type)
  if job.wf then wf_step_finished(job.wf, job.step, 'cancelled') end
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
  if job.wf then wf_step_finished(job.wf, job.step, 'failed') end
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
