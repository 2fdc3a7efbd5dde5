--[[
  The outbox (KEYS[34]): messages for another queue, whose keys a script cannot touch (in
  cluster mode a script stays inside its own queue's slot). The promoter delivers them in order
  (jobs.relay): outbox_apply.lua in the queue a message names, then the message is dropped.
  Delivering one twice changes nothing, so a relay that dies midway loses nothing.

  Messages (JSON objects), `to` naming the job or workflow they are about:
    release   to = a step's job id: create the job (type, prio, data, max_attempts, timeout,
              wf, step, parents, trace, group) unless it is stored already
    step      to = a workflow id: its step `step` ended `outcome` (completed|failed|cancelled),
              `result` the step job's result when it completed, `gen` when its dead letter
              was last requeued ('0': never)
    requeued  to = a workflow id: the dead letter of its failed step `step` was requeued at
              `gen` (ms)
    cancel    to = a step's job id: its workflow was cancelled
    forget    to = a step's job id: its workflow was deleted
]]

-- The queue part of a job or workflow id ("<queue>:<uuid>"; '' for the default queue's).
local function queue_part(id)
  return string.match(id, '^(.*):') or ''
end

local function foreign(id, other_id)
  return queue_part(id) ~= queue_part(other_id)
end

-- Queue a message; the event wakes the promoter, which delivers it.
local function post(msg)
  rcall('RPUSH', key.outbox, cjson.encode(msg))
  emit('o', msg.to, '', 'relay')
end
