--[[
  outbox_apply: deliver one message of another queue's outbox (includes/outbox.lua) in the
  queue it names. Delivering the same message again changes nothing: a job already stored is
  not created twice, a step that is no longer running ignores news of its end, one that is not
  failed ignores a requeue, and news older than the step's last requeue is ignored (`gen`).

  Input:
    KEYS[1..34]  the namespace layout (includes/common.lua)
    KEYS[35]     job:<to> (release, cancel, forget) or wf:<to> (step, requeued)
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      the message (JSON)
  Output: 1 when it changed something, 0 when it had been delivered already (or its job or
    workflow is gone).
  Events: those of the transitions it makes ('pending' for a released step, its workflow's).
]]
--@include transitions
--@include lease

local target, m = KEYS[KEY0 + 1], cjson.decode(ARGV[ARG0 + 1])
local changed = 0
if m.op == 'release' then
  if rcall('EXISTS', target) == 0 then
    wf_create_step(target, m)
    changed = 1
  end
elseif m.op == 'step' or m.op == 'requeued' then
  local p = 's:' .. m.step .. ':'
  local f = rcall('HMGET', target, p .. 'state', p .. 'gen')
  local gen, seen = tonumber(m.gen), tonumber(f[2] or 0)
  if m.op == 'step' and f[1] == 'released' and gen >= seen then
    if m.result then rcall('HSET', target, p .. 'result', m.result) end
    wf_step_finished(m.to, m.step, m.outcome)
    changed = 1
  elseif m.op == 'requeued' and f[1] == 'failed' and gen > seen then
    rcall('HSET', target, p .. 'gen', m.gen)
    wf_step_requeued(m.to, m.step)
    changed = 1
  end
elseif m.op == 'cancel' then
  if rcall('EXISTS', target) == 1 then
    cancel_unwanted(m.to)
    changed = 1
  end
elseif m.op == 'forget' then
  if rcall('EXISTS', target) == 1 then
    forget_job(m.to)
    changed = 1
  end
else
  return redis.error_reply('ERR outbox_apply: unknown op ' .. tostring(m.op))
end
-- a released step goes to a runner that waits, as a submitted job does
if WAKE and hand_off() and not ready_left() then WAKE = false end
wake_if_needed()
return changed
