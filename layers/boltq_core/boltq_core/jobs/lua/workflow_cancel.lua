--[[
  workflow_cancel: stop a workflow. Waiting steps are skipped, queued step jobs are cancelled at
  once, running ones are flagged (they end 'cancelled'). With ARGV[6] = '1' the workflow and
  its finished step jobs are deleted too (running step jobs finish, then expire). Step jobs in
  other queues are cancelled or deleted there, through the outbox (includes/outbox.lua).

  Input:
    KEYS[1..34]  the namespace layout (includes/common.lua)
    KEYS[35]     wf:<id>
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
  local jid = rcall('HGET', wkey, p .. 'job')
  -- a step job in another queue is stopped (or deleted) there, through the outbox
  local away = foreign(jid, wf_id)
  if state == 'waiting' then
    rcall('HSET', wkey, p .. 'state', 'skipped')
  elseif state == 'released' then
    if away then post({op = 'cancel', to = jid}) else cancel_unwanted(jid) end
  end
  if delete and state ~= 'waiting' and state ~= 'skipped' then
    if away then post({op = 'forget', to = jid}) else forget_job(jid) end
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
