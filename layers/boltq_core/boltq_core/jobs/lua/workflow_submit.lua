--[[
  workflow_submit: store a validated workflow and enqueue the steps that depend on nothing.
  Safe to send again: a workflow id already stored is left as it is (its reply was lost).

  Input:
    KEYS[1..34]  the namespace layout (includes/common.lua)
    KEYS[35]     wf:<id>
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      workflow id   ARGV[6] name   ARGV[7] metadata JSON   ARGV[8] trace ('' = none)
    ARGV[9]      n steps
    ARGV[10..]   10 fields per step: step id, job id, job type, params JSON, priority,
                 max_attempts, timeout s, deps (JSON list, no repeats), children (JSON list),
                 group ('' = none)
  Output: the number of steps enqueued at once (0 when the workflow was already stored).
  Events: workflow 'running'; 'pending' per enqueued step job.
]]
--@include workflow

local wkey, wf_id = KEYS[KEY0 + 1], ARGV[ARG0 + 1]
if rcall('EXISTS', wkey) == 1 then return 0 end
local n = tonumber(ARGV[ARG0 + 5])
local order, fields = {}, {}
for i = 0, n - 1 do
  local a = ARG0 + 6 + i * 10
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
  if ARGV[a + 9] ~= '' then
    fields[#fields + 1] = p .. 'group'
    fields[#fields + 1] = ARGV[a + 9]
  end
end
rcall('HSET', wkey, 'id', wf_id, 'name', ARGV[ARG0 + 2], 'metadata', ARGV[ARG0 + 3],
  'status', 'running', 'created', NOW, 'total', n, 'done', 0, 'steps', cjson.encode(order),
  unpack(fields))
if ARGV[ARG0 + 4] ~= '' then rcall('HSET', wkey, 'trace', ARGV[ARG0 + 4]) end
rcall('ZADD', key.workflows, rcall('INCR', key.seq), wf_id)
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
