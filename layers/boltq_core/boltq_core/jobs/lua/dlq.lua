--[[
  dlq: requeue or purge dead-letter jobs.

  Input:
    KEYS[1..34]  the namespace layout (includes/common.lua)
    KEYS[35..]   job:<id> for each named id (mode 'requeue')
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      mode: 'requeue' (the ids that follow), 'requeue_all' or 'purge'
    ARGV[6]      limit for 'requeue_all' / 'purge' (the caller loops until 0)
    ARGV[7..]    job ids (mode 'requeue')
  Output: the ids requeued or purged. A requeued job starts over: attempts 0, status 'pending',
    its last error kept for reference, `requeued` = now (its queue wait counts from there).
    Ids not in the dead-letter queue are skipped. A requeued workflow step resumes its
    workflow (includes/workflow.lua wf_step_back).
  Events: 'pending' per requeued job; 'running' per workflow that runs again.
]]
--@include workflow

local mode, limit = ARGV[ARG0 + 1], tonumber(ARGV[ARG0 + 2])
local ids, keys = {}, {}
if mode == 'requeue' then
  for i = ARG0 + 3, #ARGV do
    ids[#ids + 1] = ARGV[i]
    keys[#keys + 1] = KEYS[KEY0 + 1 + i - (ARG0 + 3)]
  end
else
  ids = rcall('ZRANGE', key.dlq, 0, limit - 1)
  for i, id in ipairs(ids) do keys[i] = key.job .. id end
end
local done = {}
for i, id in ipairs(ids) do
  if rcall('ZREM', key.dlq, id) == 1 then
    if mode == 'purge' then
      rcall('DEL', keys[i])
      rcall('ZREM', key.index, id)
    else
      local f = rcall('HMGET', keys[i], 'priority', 'type', 'wf', 'step', 'tl', 'group')
      rcall('HSET', keys[i], 'status', 'pending', 'attempts', 0, 'requeued', NOW)
      rcall('HDEL', keys[i], 'finished', 'started', 'free', 'solo')
      push_ready(id, f[1], f[6])
      stat('requeued', f[5] or f[2])
      emit('j', id, f[3], 'pending', f[2])
      if f[3] and f[4] then wf_step_back(id, f[3], f[4]) end
    end
    done[#done + 1] = id
  end
end
wake_if_needed()
return done
