--[[
  Workflow advancement, shared by every script that can finish a job.

  A workflow hash (KEYS[18] .. id) holds: name, status (running|completed|failed|cancelled),
  created, finished, metadata, steps (JSON list of step ids), total, done, and per step
  "s:<id>:<field>": job, type, params, prio, max_attempts, timeout, group (absent: none), deps,
  children (JSON lists), left (parents not yet completed),
  state (waiting|released|completed|failed|cancelled|skipped), and for a step that runs in
  another queue: result (its job's result, sent back with its outcome), gen (when its dead
  letter was last requeued: news of an earlier run is ignored).

  A step may run in another queue than its workflow (its job id names that queue): it is
  released, and it reports how it ended, through the outbox (includes/outbox.lua).
]]
--@include create_job
--@include outbox

local function wf_finish(wkey, wf_id, status)
  rcall('HSET', wkey, 'status', status, 'finished', NOW)
  rcall('ZADD', key.wf_done, NOW, wf_id)
  emit('w', wf_id, wf_id, status)
end

-- A completed parent's result: sent back with its outcome when it ran in another queue.
local function wf_result(wkey, parent)
  local p = 's:' .. parent .. ':'
  local res = rcall('HGET', wkey, p .. 'result')
  if res then return res end
  return rcall('HGET', key.job .. rcall('HGET', wkey, p .. 'job'), 'result')
end

-- Create a released step's job (at jkey) from its release `m` (see includes/outbox.lua), here
-- or, for a step of another queue, when the message is delivered there.
local function wf_create_step(jkey, m)
  local fields = {'data', m.data, 'max_attempts', m.max_attempts, 'timeout', m.timeout,
    'wf', m.wf, 'step', m.step, 'parents', m.parents}
  if m.trace ~= '' then
    fields[#fields + 1] = 'trace'
    fields[#fields + 1] = m.trace
  end
  create_job(jkey, m.to, m.type, m.prio, NOW, rcall('INCR', key.seq), fields, m.group, m.wf)
end

-- Enqueue a step whose parents all completed; it receives their results as "parents".
local function wf_release(wkey, wf_id, sid)
  local p = 's:' .. sid .. ':'
  local f = rcall('HMGET', wkey, p .. 'job', p .. 'type', p .. 'params', p .. 'prio',
    p .. 'max_attempts', p .. 'timeout', p .. 'deps', 'trace', p .. 'group')
  local parts = {}
  for _, parent in ipairs(cjson.decode(f[7])) do
    parts[#parts + 1] = cjson.encode(parent) .. ':' .. (wf_result(wkey, parent) or 'null')
  end
  local m = {op = 'release', to = f[1], type = f[2], prio = f[4], data = f[3],
    max_attempts = f[5], timeout = f[6], wf = wf_id, step = sid,
    parents = '{' .. table.concat(parts, ',') .. '}', trace = f[8] or '', group = f[9] or ''}
  if foreign(f[1], wf_id) then post(m) else wf_create_step(key.job .. f[1], m) end
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

-- The job `id` of step `job.step` of workflow `job.wf` reached a final state: advance the
-- workflow here, or tell it through the outbox when it lives in another queue. `gen` (when
-- the job's dead letter was last requeued, 0: never) lets the workflow ignore late news of an
-- earlier run.
local function wf_step_done(id, job, outcome, result)
  if not foreign(id, job.wf) then
    wf_step_finished(job.wf, job.step, outcome)
    return
  end
  local msg = {op = 'step', to = job.wf, step = job.step, outcome = outcome,
    gen = rcall('HGET', key.job .. id, 'requeued') or '0'}
  if outcome == 'completed' then msg.result = result end
  post(msg)
end

-- A step job's dead letter was requeued (see wf_step_requeued), at NOW.
local function wf_step_back(id, wf_id, sid)
  if foreign(id, wf_id) then
    post({op = 'requeued', to = wf_id, step = sid, gen = tostring(NOW)})
  else
    wf_step_requeued(wf_id, sid)
  end
end
