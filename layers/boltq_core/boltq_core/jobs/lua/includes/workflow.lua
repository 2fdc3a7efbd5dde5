--[[
  Workflow advancement, shared by every script that can finish a job.

  A workflow hash (KEYS[18] .. id) holds: name, status (running|completed|failed|cancelled),
  created, finished, metadata, steps (JSON list of step ids), total, done, and per step
  "s:<id>:<field>": job, type, params, prio, max_attempts, timeout, deps, children (JSON lists),
  left (parents not yet completed), state (waiting|released|completed|failed|cancelled|skipped).
]]
--@include create_job

local function wf_finish(wkey, wf_id, status)
  rcall('HSET', wkey, 'status', status, 'finished', NOW)
  rcall('ZADD', key.wf_done, NOW, wf_id)
  emit('w', wf_id, wf_id, status)
end

-- Enqueue a step whose parents all completed; it receives their results as "parents".
local function wf_release(wkey, wf_id, sid)
  local p = 's:' .. sid .. ':'
  local f = rcall('HMGET', wkey, p .. 'job', p .. 'type', p .. 'params', p .. 'prio',
    p .. 'max_attempts', p .. 'timeout', p .. 'deps', 'trace')
  local parts = {}
  for _, parent in ipairs(cjson.decode(f[7])) do
    local pjob = rcall('HGET', wkey, 's:' .. parent .. ':job')
    local res = rcall('HGET', key.job .. pjob, 'result')
    parts[#parts + 1] = cjson.encode(parent) .. ':' .. (res or 'null')
  end
  local fields = {'data', f[3], 'max_attempts', f[5], 'timeout', f[6], 'wf', wf_id,
    'step', sid, 'parents', '{' .. table.concat(parts, ',') .. '}'}
  if f[8] then
    fields[#fields + 1] = 'trace'
    fields[#fields + 1] = f[8]
  end
  create_job(key.job .. f[1], f[1], f[2], f[4], NOW, rcall('INCR', key.seq), fields, wf_id)
  rcall('HSET', wkey, p .. 'state', 'released')
end

-- Move the descendants of `sid` that are in state `from` to state `to`, as far down as the
-- chain of such steps goes.
local function wf_mark_descendants(wkey, sid, from, to)
  local queue = {sid}
  local i = 1
  while i <= #queue do
    local children = cjson.decode(rcall('HGET', wkey, 's:' .. queue[i] .. ':children'))
    for _, c in ipairs(children) do
      if rcall('HGET', wkey, 's:' .. c .. ':state') == from then
        rcall('HSET', wkey, 's:' .. c .. ':state', to)
        queue[#queue + 1] = c
      end
    end
    i = i + 1
  end
end

-- Mark every still-waiting descendant of `sid` skipped.
local function wf_skip_dependants(wkey, sid)
  wf_mark_descendants(wkey, sid, 'waiting', 'skipped')
end

-- A step's job reached a final state: 'completed', 'failed' or 'cancelled'.
local function wf_step_finished(wf_id, sid, outcome)
  local wkey = key.wf .. wf_id
  if rcall('EXISTS', wkey) == 0 then return end
  rcall('HSET', wkey, 's:' .. sid .. ':state', outcome)
  local status = rcall('HGET', wkey, 'status')
  if outcome == 'completed' then
    local done = rcall('HINCRBY', wkey, 'done', 1)
    local children = cjson.decode(rcall('HGET', wkey, 's:' .. sid .. ':children'))
    for _, c in ipairs(children) do
      local left = rcall('HINCRBY', wkey, 's:' .. c .. ':left', -1)
      if left == 0 and rcall('HGET', wkey, 's:' .. c .. ':state') == 'waiting' then
        if status == 'cancelled' then
          rcall('HSET', wkey, 's:' .. c .. ':state', 'skipped')
        else
          wf_release(wkey, wf_id, c)
        end
      end
    end
    if status == 'running' and done == tonumber(rcall('HGET', wkey, 'total')) then
      wf_finish(wkey, wf_id, 'completed')
    end
  else
    wf_skip_dependants(wkey, sid)
    if status == 'running' then
      if outcome == 'failed' then wf_finish(wkey, wf_id, 'failed')
      else wf_finish(wkey, wf_id, 'cancelled') end
    end
  end
end

-- A failed step's dead letter was requeued: the step is running again, the dependants its
-- failure skipped wait for it again (those another failed or cancelled step still blocks are
-- skipped again), and a workflow that had failed only through requeued steps runs again.
local function wf_step_requeued(wf_id, sid)
  local wkey = key.wf .. wf_id
  if rcall('EXISTS', wkey) == 0 or rcall('HGET', wkey, 's:' .. sid .. ':state') ~= 'failed' then
    return
  end
  rcall('HSET', wkey, 's:' .. sid .. ':state', 'released')
  wf_mark_descendants(wkey, sid, 'skipped', 'waiting')
  local blocked = false
  for _, s in ipairs(cjson.decode(rcall('HGET', wkey, 'steps'))) do
    local state = rcall('HGET', wkey, 's:' .. s .. ':state')
    if state == 'failed' or state == 'cancelled' then
      blocked = true
      wf_skip_dependants(wkey, s)
    end
  end
  if not blocked and rcall('HGET', wkey, 'status') == 'failed' then
    rcall('HSET', wkey, 'status', 'running')
    rcall('HDEL', wkey, 'finished')
    rcall('ZREM', key.wf_done, wf_id)
    emit('w', wf_id, wf_id, 'running')
  end
end
