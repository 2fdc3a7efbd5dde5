--[[
  cancel: a pending, scheduled or retrying job is removed from its queue and ends 'cancelled'
  at once; a running job is flagged, its worker sees the flag at the next heartbeat and the
  job ends 'cancelled'. A finished job is left as it is.

  Input:
    KEYS[1..19]  the namespace layout (includes/common.lua)
    KEYS[20]     job:<id>
    ARGV[1..3]   retention ms, events max length, dead-letter max size
    ARGV[4]      job id
  Output: {status after the call, changed (0|1)}; status 'missing' for an unknown id.
]]
--@include common
--@include create_job
--@include workflow
--@include transitions

local jkey, id = KEYS[20], ARGV[4]
local m = job_meta(jkey)
if not m then return {'missing', 0} end
local st = m.status
if st == 'pending' then
  rcall('LREM', K.ready[tonumber(m.priority) + 1], 1, id)
elseif st == 'scheduled' then
  rcall('ZREM', K.scheduled, id)
elseif st == 'retrying' then
  rcall('ZREM', K.retrying, id)
elseif st == 'running' then
  if m.cancel then return {'running', 0} end
  rcall('HSET', jkey, 'cancel', '1')
  emit('j', id, m.wf, 'cancelling', m.type)
  return {'running', 1}
else
  return {st, 0}
end
to_cancelled(jkey, id, m)
return {'cancelled', 1}
