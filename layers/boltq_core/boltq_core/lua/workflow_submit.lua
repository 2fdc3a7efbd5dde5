--[[
  workflow_submit: store a validated workflow and enqueue the steps that depend on nothing.

  Input:
    KEYS[1..19]  the namespace layout (includes/common.lua)
    KEYS[20]     wf:<id>
    ARGV[1..3]   retention ms, events max length, dead-letter max size
    ARGV[4]      workflow id   ARGV[5] name   ARGV[6] metadata JSON   ARGV[7] trace ('' = none)
    ARGV[8]      n steps
    ARGV[9..]    9 fields per step: step id, job id, job type, params JSON, priority,
                 max_attempts, timeout s, deps (JSON list), children (JSON list)
  Output: the number of steps enqueued at once.
  Events: workflow 'running'; 'pending' per enqueued step job.
]]
--@include common
--@include create_job
--@include workflow

local wkey, wf_id = KEYS[20], ARGV[4]
local n = tonumber(ARGV[8])
local order, fields = {}, {}
for i = 0, n - 1 do
  local a = 9 + i * 9
  local sid = ARGV[a]
  local p = 's:' .. sid .. ':'
  order[#order + 1] = sid
  local deps = cjson.decode(ARGV[a + 7])
  for _, v in ipairs({
    p .. 'job', ARGV[a + 1], p .. 'type', ARGV[a + 2], p .. 'params', ARGV[a + 3],
    p .. 'prio', ARGV[a + 4], p .. 'max_attempts', ARGV[a + 5], p .. 'timeout', ARGV[a + 6],
    p .. 'deps', ARGV[a + 7], p .. 'children', ARGV[a + 8], p .. 'left', #deps,
    p .. 'state', 'waiting'}) do
    fields[#fields + 1] = v
  end
end
rcall('HSET', wkey, 'id', wf_id, 'name', ARGV[5], 'metadata', ARGV[6], 'status', 'running',
  'created', NOW, 'total', n, 'done', 0, 'steps', cjson.encode(order), unpack(fields))
if ARGV[7] ~= '' then rcall('HSET', wkey, 'trace', ARGV[7]) end
rcall('ZADD', K.workflows, rcall('INCR', K.seq), wf_id)
emit('w', wf_id, wf_id, 'running')
local released = 0
for _, sid in ipairs(order) do
  if rcall('HGET', wkey, 's:' .. sid .. ':left') == '0' then
    wf_release(wkey, wf_id, sid)
    released = released + 1
  end
end
wake_if_needed()
return released
