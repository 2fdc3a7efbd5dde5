--[[
  workflow_cancel: stop a workflow. Waiting steps are skipped, queued step jobs are cancelled at
  once, running ones are flagged (they end 'cancelled'). With ARGV[6] = '1' the workflow and
  its finished step jobs are deleted too (running step jobs finish, then expire).

  Input:
    KEYS[1..23]  the namespace layout (includes/common.lua)
    KEYS[24]     wf:<id>
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      workflow id   ARGV[6] delete ('1' | '0')
  Output: {status after the call ('missing' for an unknown id), changed (0|1)}
]]
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
    local jkey = key.job .. jid
    local job = job_meta(jkey)
    if job then
      if job.status == 'pending' then
        unready(jid, job.priority)
        to_cancelled(jkey, jid, job)
      elseif job.status == 'scheduled' or job.status == 'retrying' then
        rcall('ZREM', key.scheduled, jid)
        rcall('ZREM', key.retrying, jid)
        to_cancelled(jkey, jid, job)
      elseif job.status == 'running' then
        rcall('HSET', jkey, 'cancel', '1')
      end
    end
  end
  if delete then
    local jid = rcall('HGET', wkey, p .. 'job')
    local st = rcall('HGET', key.job .. jid, 'status')
    if st and st ~= 'running' then
      rcall('DEL', key.job .. jid)
      rcall('ZREM', key.index, jid)
      rcall('ZREM', key.completed, jid)
      rcall('ZREM', key.cancelled, jid)
      rcall('ZREM', key.dlq, jid)
    end
  end
end
if delete then
  rcall('DEL', wkey)
  rcall('ZREM', key.workflows, wf_id)
  rcall('ZREM', key.wf_done, wf_id)
  emit('w', wf_id, wf_id, 'deleted')
  return {'deleted', 1}
end
return {rcall('HGET', wkey, 'status'), changed}
