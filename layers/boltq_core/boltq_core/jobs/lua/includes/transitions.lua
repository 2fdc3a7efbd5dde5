--[[
  The terminal and retry transitions of a job, shared by finish, cancel, claim (lease recovery)
  and promote. `m` is job_meta(jkey). Each one updates the hash, moves the id between the
  namespace sets, bumps the counters, emits the change and advances the job's workflow.
]]
local function to_completed(jkey, id, m, result)
  rcall('HSET', jkey, 'status', 'completed', 'finished', NOW, 'result', result)
  rcall('ZADD', K.completed, NOW, id)
  rcall('PEXPIRE', jkey, CFG.retention)
  stat('processed', m.tl, 'completed')
  emit('j', id, m.wf, 'completed', m.type)
  if m.wf then wf_step_finished(m.wf, m.step, 'completed') end
end

local function to_cancelled(jkey, id, m)
  rcall('HSET', jkey, 'status', 'cancelled', 'finished', NOW)
  rcall('ZADD', K.cancelled, NOW, id)
  rcall('PEXPIRE', jkey, CFG.retention)
  stat('processed', m.tl, 'cancelled')
  emit('j', id, m.wf, 'cancelled', m.type)
  if m.wf then wf_step_finished(m.wf, m.step, 'cancelled') end
end

-- Dead-letter: kept (no expiry) until requeued, purged or pushed out by the size bound.
local function to_dlq(jkey, id, m, category, message)
  rcall('HSET', jkey, 'status', 'failed', 'finished', NOW, 'err_cat', category,
    'err_msg', message)
  rcall('ZADD', K.dlq, NOW, id)
  stat('processed', m.tl, 'failed')
  emit('j', id, m.wf, 'failed', m.type)
  local over = rcall('ZCARD', K.dlq) - CFG.dlq_max
  if over > 0 then
    local old = rcall('ZPOPMIN', K.dlq, over)
    for i = 1, #old, 2 do
      rcall('DEL', K.job .. old[i])
      rcall('ZREM', K.index, old[i])
    end
  end
  if m.wf then wf_step_finished(m.wf, m.step, 'failed') end
end

-- Retry after delay_ms, or dead-letter once the attempts are used up.
local function to_retrying(jkey, id, m, category, message, delay_ms)
  if out_of_attempts(m) then
    to_dlq(jkey, id, m, category, message)
    return 'failed'
  end
  rcall('HSET', jkey, 'status', 'retrying', 'err_cat', category, 'err_msg', message,
    'scheduled', NOW + delay_ms)
  -- it failed on its own: its next attempt goes with the others again
  if m.solo then rcall('HDEL', jkey, 'solo') end
  rcall('ZADD', K.retrying, NOW + delay_ms, id)
  stat('retried', m.tl)
  emit('j', id, m.wf, 'retrying', m.type)
  return 'retrying'
end
