--[[
  promote_due: move up to `limit` due scheduled and retrying jobs to ready (emits 'pending'),
  and let the groups whose limit has passed back (includes/groups.lua).
  recover_expired: jobs whose lease ran out (their worker died or stalled) run again. A job that
  ran beside others is not charged the attempt (any of them may have been the culprit) and
  becomes a suspect, which a worker runs alone; a suspect that loses its lease again is
  charged, and goes to the dead-letter queue ('crashed') when that was its last attempt.
  next_wake: the earliest moment something becomes due (ms), or -1: a delayed or retrying
  job, a lease's end, a limited group's next start.
]]
--@include transitions

local function promote_due(limit)
  local moved = 0
  for _, zkey in ipairs({key.scheduled, key.retrying}) do
    local ids = rcall('ZRANGE', zkey, '-inf', NOW, 'BYSCORE', 'LIMIT', 0, limit)
    if #ids > 0 then
      rcall('ZREM', zkey, unpack(ids))
      for _, id in ipairs(ids) do
        local jkey = key.job .. id
        local f = rcall('HMGET', jkey, 'priority', 'type', 'wf', 'group')
        if f[1] then
          rcall('HSET', jkey, 'status', 'pending')
          push_ready(id, f[1], f[4])
          emit('j', id, f[3], 'pending', f[2])
          moved = moved + 1
        end
      end
    end
  end
  release_groups(limit)
  return moved
end

local function recover_expired(limit)
  local ids = rcall('ZRANGE', key.active, '-inf', NOW, 'BYSCORE', 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do
    rcall('ZREM', key.active, id)
    local jkey = key.job .. id
    local job = job_meta(jkey)
    if job and job.status == 'running' then
      group_ended(job.group)
      if job.cancel then
        to_cancelled(jkey, id, job)
      elseif not job.solo then
        -- it ran beside other jobs: any of them may have killed or stalled the worker, so
        -- this attempt is not charged; it runs alone next, where a loss is its own
        rcall('HINCRBY', jkey, 'free', 1)
        rcall('HSET', jkey, 'status', 'pending', 'err_cat', 'lease_expired',
          'err_msg', 'its worker lost the lease (crashed or stalled) while it ran beside '
            .. 'other jobs; it runs again, alone')
        rcall('RPUSH', key.suspects, id)
        WAKE = true
        stat('retried', job.tl)
        emit('j', id, job.wf, 'pending', job.type)
      elseif out_of_attempts(job) then
        to_dlq(jkey, id, job, 'crashed', 'its worker died or stalled while it ran alone, '
          .. (job.attempts - job.free) .. ' times: the job kills or hangs its worker')
      else
        rcall('HSET', jkey, 'status', 'pending', 'err_cat', 'crashed',
          'err_msg', 'its worker died or stalled while it ran alone; it runs again, alone')
        rcall('RPUSH', key.suspects, id)
        WAKE = true
        stat('retried', job.tl)
        emit('j', id, job.wf, 'pending', job.type)
      end
    end
  end
  return #ids
end

local function next_wake()
  local best = -1
  for _, zkey in ipairs({key.scheduled, key.retrying, key.active, key.gwait}) do
    local first = rcall('ZRANGE', zkey, 0, 0, 'WITHSCORES')
    local s = tonumber(first[2])
    if s and s < INF then
      if best < 0 or s < best then best = s end
    end
  end
  return best
end
