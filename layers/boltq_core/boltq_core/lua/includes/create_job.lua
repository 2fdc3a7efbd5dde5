--[[
  create_job: store a new job hash, index it and place it in ready:<prio> or scheduled.
  `fields` is a flat list of extra hash fields (data, max_attempts, timeout, ...).
  Emits 'pending' or 'scheduled'.
]]
local function create_job(jkey, id, jtype, prio, due, fields)
  local seq = rcall('INCR', K.seq)
  local status = 'pending'
  if due > NOW then status = 'scheduled' end
  rcall('HSET', jkey, 'id', id, 'type', jtype, 'priority', prio, 'status', status,
    'attempts', 0, 'created', NOW, 'scheduled', due, 'seq', seq, unpack(fields))
  rcall('ZADD', K.index, seq, id)
  if status == 'scheduled' then
    rcall('ZADD', K.scheduled, due, id)
    -- a blocked worker recomputes how long it may sleep
    rcall('ZADD', K.marker, 0, 'w')
  else
    push_ready(id, prio, false)
  end
  stat('submitted|' .. jtype .. '|' .. prio)
  local wf = nil
  for i = 1, #fields, 2 do
    if fields[i] == 'wf' then wf = fields[i + 1] end
  end
  emit('j', id, wf, status, jtype)
  return status
end
