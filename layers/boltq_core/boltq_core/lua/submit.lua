--[[
  submit: store one or many jobs atomically (bulk submit is one call).

  Input:
    KEYS[1..19]  the namespace layout (includes/common.lua)
    KEYS[20..19+n]  job:<id> for each job, in order
    KEYS[20+n..]    idem:<key> for each job that has an idempotency key, in order
    ARGV[1..3]   retention ms, events max length, dead-letter max size
    ARGV[4]      n, the number of jobs
    ARGV[5..]    10 fields per job: id, type, data (JSON), priority (0|1|2), max_attempts,
                 timeout seconds, delay ms, run_at ms (0 = none), idempotency key ('' = none),
                 trace context ('' = none)
  Output: per job {id, status, duplicate (0|1)}; a repeated idempotency key answers with the
    first job's id and status.
  Events: 'pending' or 'scheduled' per new job.
]]
--@include common
--@include create_job

local n = tonumber(ARGV[4])
local out = {}
local idem_cursor = 20 + n
for i = 0, n - 1 do
  local a = 5 + i * 10
  local id, jtype, data, prio = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local delay, run_at, idem, trace = tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7]),
    ARGV[a + 8], ARGV[a + 9]
  local jkey = KEYS[20 + i]
  local existing = nil
  local ikey = nil
  if idem ~= '' then
    ikey = KEYS[idem_cursor]
    idem_cursor = idem_cursor + 1
    existing = rcall('GET', ikey)
    if existing and rcall('EXISTS', K.job .. existing) == 0 then existing = nil end
  end
  if existing then
    out[#out + 1] = {existing, rcall('HGET', K.job .. existing, 'status'), 1}
  else
    local due = NOW + delay
    if run_at > 0 then due = run_at end
    local fields = {'data', data, 'max_attempts', ARGV[a + 4], 'timeout', ARGV[a + 5]}
    if ikey then
      rcall('SET', ikey, id, 'PX', CFG.retention)
      fields[#fields + 1] = 'idem'
      fields[#fields + 1] = idem
    end
    if trace ~= '' then
      fields[#fields + 1] = 'trace'
      fields[#fields + 1] = trace
    end
    out[#out + 1] = {id, create_job(jkey, id, jtype, prio, due, fields), 0}
  end
end
wake_if_needed()
return out
