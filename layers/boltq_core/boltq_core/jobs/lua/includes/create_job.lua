--[[
  create_job: store a new job hash, index it under sequence `seq` and place it in
  its group's ready list or, when due later, in scheduled. `fields` is a flat list of extra
  hash fields (data, max_attempts, timeout, ...); `group` its group ('' = none), `wf` its
  workflow id or nil. Emits 'pending' or 'scheduled'. A batching call (batch_begin) ends with
  batch_flush_jobs.
]]
--@include groups

local function create_job(jkey, id, jtype, prio, due, seq, fields, group, wf)
  local status = 'pending'
  group = group or ''
  if group ~= '' then
    fields[#fields + 1] = 'group'
    fields[#fields + 1] = group
  end
  local tlabel = type_label(jtype)
  if tlabel ~= jtype then
    fields[#fields + 1] = 'tl'
    fields[#fields + 1] = tlabel
  end
  if due > NOW then
    status = 'scheduled'
    rcall('HSET', jkey, 'id', id, 'type', jtype, 'priority', prio, 'status', status,
      'attempts', 0, 'created', NOW, 'scheduled', due, unpack(fields))
    rcall('ZADD', key.scheduled, due, id)
    -- a blocked worker recomputes how long it may sleep
    rcall('ZADD', key.marker, 0, 'w')
  else
    rcall('HSET', jkey, 'id', id, 'type', jtype, 'priority', prio, 'status', status,
      'attempts', 0, 'created', NOW, unpack(fields))
    push_ready(id, prio, group)
  end
  zadd_or_gather(BATCH and BATCH.index, key.index, seq, id)
  stat('submitted', tlabel, prio)
  emit('j', id, wf, status, jtype)
  return status
end

-- The jobs a batching call created (batch_begin): their index entries and the ungrouped ones'
-- ready pushes, in the order they were created, then the stats counts.
local function batch_flush_jobs()
  if not (BATCH and BATCH.index) then return batch_flush() end
  rcall_slices('ZADD', key.index, BATCH.index, 1000)
  for p = 1, 3 do
    local ids = BATCH.ready[p]
    if #ids > 0 then
      rcall_slices('RPUSH', key.ready[p], ids, 500)
      ring_join('', p)
    end
  end
  batch_flush()
end
