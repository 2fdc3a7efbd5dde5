--[[
  submit: store one or many jobs atomically (bulk submit is one call). Safe to send again: a job
  whose id is already stored is answered with its status and not stored twice, so a submit whose
  reply was lost (a failover, a cut connection) is resent without creating duplicates. New
  ready jobs go to a runner that waits, when one does (includes/lease.lua hand_off): its
  blocking pop returns them, no claim needed.

  Input:
    KEYS[1..34]  the namespace layout (includes/common.lua)
    KEYS[35..34+n]  job:<id> for each job, in order
    KEYS[35+n..]    idem:<key> for each job that has an idempotency key, in order
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      n, the number of jobs
    ARGV[6..]    6 fields per job: id, type, data (JSON), "priority:max_attempts:timeout s:
                 delay ms:run_at ms[:group]" (run_at 0 = none; no group = ungrouped),
                 idempotency key ('' = none), trace context ('' = none)
  Output: per job {id, status, duplicate (0|1)}; a repeated idempotency key answers with the
    first job's id and status.
  Events: 'pending' or 'scheduled' per new job (a bulk's like ones in a row share an entry).
]]
--@include create_job
--@include lease

local n = tonumber(ARGV[ARG0 + 1])
local out = {}
local idem_cursor = KEY0 + 1 + n
-- one sequence block for the whole call: job i gets last - n + i
local seq = rcall('INCRBY', key.seq, n) - n
-- a call of many jobs asks once which are stored already (a resent call's): a job is in the
-- index exactly while its hash exists; one job asks its hash
local indexed = nil
if n > 1 then
  batch_begin(true)
  indexed = {}
  for first = 0, n - 1, 1000 do
    local ids = {}
    for i = first, math.min(first + 999, n - 1) do ids[#ids + 1] = ARGV[ARG0 + 2 + i * 6] end
    for _, score in ipairs(rcall('ZMSCORE', key.index, unpack(ids))) do
      indexed[#indexed + 1] = score
    end
  end
end
for i = 0, n - 1 do
  local a = ARG0 + 2 + i * 6
  local id, jtype, data, idem, trace = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 4],
    ARGV[a + 5]
  local prio, attempts, timeout, delay, run_at, group =
    string.match(ARGV[a + 3], '^(%d):(%d+):(%d+):(%d+):(%d+):?(.*)$')
  local jkey = KEYS[KEY0 + 1 + i]
  local existing = nil
  local ikey = nil
  if idem ~= '' then
    ikey = KEYS[idem_cursor]
    idem_cursor = idem_cursor + 1
  end
  local resent = false
  if not indexed or indexed[i + 1] then resent = rcall('HGET', jkey, 'status') end
  if resent then
    out[#out + 1] = {id, resent, 0}
  else
    if ikey then
      existing = rcall('GET', ikey)
      if existing and rcall('EXISTS', key.job .. existing) == 0 then existing = nil end
    end
    if existing then
      out[#out + 1] = {existing, rcall('HGET', key.job .. existing, 'status'), 1}
    else
      local due = NOW + tonumber(delay)
      if run_at ~= '0' then due = tonumber(run_at) end
      local fields = {'data', data, 'max_attempts', attempts, 'timeout', timeout}
      if ikey then
        rcall('SET', ikey, id, 'PX', config.retention)
        fields[#fields + 1] = 'idem'
        fields[#fields + 1] = idem
      end
      if trace ~= '' then
        fields[#fields + 1] = 'trace'
        fields[#fields + 1] = trace
      end
      out[#out + 1] = {id, create_job(jkey, id, jtype, prio, due, seq + i + 1, fields,
        group), 0}
    end
  end
end
batch_flush_jobs()
-- a runner that waits gets the new jobs itself; the marker wakes one only for what is left
if WAKE and hand_off() and not ready_left() then WAKE = false end
wake_if_needed()
return out
