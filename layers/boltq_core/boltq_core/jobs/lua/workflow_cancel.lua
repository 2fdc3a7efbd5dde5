--[[
  workflow_cancel: stop a workflow. Waiting steps are skipped, queued step jobs are cancelled at
  once, running ones are flagged (they end 'cancelled'). With ARGV[6] = '1' the workflow and
  its finished step jobs are deleted too (running step jobs finish, then expire).

  Input:
    KEYS[1..22]  the namespace layout (includes/common.lua)
    KEYS[23]     wf:<id>
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      workflow id   ARGV[6] delete ('1' | '0')
  Output: {status after the call ('missing' for an unknown id), changed (0|1)}
]]
--@include common
--@include create_job
--@include workflow
--@include transitions

local wkey, wf_id, delete = KEYS[KEY0 + 1], ARGV[ARG0 + 1], ARGV[ARG0 + 2] == '1'
if rcall('EXISTS', wkey) == 0 then return {'missing', 0} end
local status = rcall('HGET', wkey, 'status')
local changed = 0
if status == 'running' then
  wf_finish(wkey, wf_id, 'cancelled')
  changed = 1
end
for _, sid in ipairs(cjson.decode(rcall('HGET', wkey, 'steps'))) do
  local p = 's:' .. sid .. ':'
  local state = rcall('HGET', wkey, p .. 'state')
  if state == 'waiting' then
    rcall('HSET', wkey, p .. 'state', 'skipped')
  elseif state == 'released' then
    local jid = rcall('HGET', wkey, p .. 'job')
    local jkey = K.job .. jid
    local m = job_meta(jkey)
    if m then
      if m.status == 'pending' then
        unready(jid, m.priority)
        to_cancelled(jkey, jid, m)
      elseif m.status == 'scheduled' or m.status == 'retrying' then
        rcall('ZREM', K.scheduled, jid)
        rcall('ZREM', K.retrying, jid)
        to_cancelled(jkey, jid, m)
      elseif m.status == 'running' then
        rcall('HSET', jkey, 'cancel', '1')
      end
    end
  end
  if delete then
    local jid = rcall('HGET', wkey, p .. 'job')
    local st = rcall('HGET', K.job .. jid, 'status')
    if st and st ~= 'running' then
      rcall('DEL', K.job .. jid)
      rcall('ZREM', K.index, jid)
      rcall('ZREM', K.completed, jid)
      rcall('ZREM', K.cancelled, jid)
      rcall('ZREM', K.dlq, jid)
    end
  end
end
if delete then
  rcall('DEL', wkey)
  rcall('ZREM', K.workflows, wf_id)
  rcall('ZREM', K.wf_done, wf_id)
  emit('w', wf_id, wf_id, 'deleted')
  return {'deleted', 1}
end
return {rcall('HGET', wkey, 'status'), changed}
