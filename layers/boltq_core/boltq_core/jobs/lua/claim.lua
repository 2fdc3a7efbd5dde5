--[[
  claim: take up to `count` ready jobs, highest priority first, and lease each one to the
  caller. Inside a priority the groups with ready jobs take turns, FIFO within a group, and a
  group its limits hold back is set aside until it may start again (includes/groups.lua). Due delayed/retrying jobs are promoted and expired leases
  recovered first, so an active worker needs no separate scheduler for precision.

  A suspect (a job whose worker lost its lease while it ran beside others) is only ever leased
  alone, to a caller that holds nothing, and then nothing else is leased with it; its hash gets
  solo='1' and the caller claims nothing more until it ends. While suspects wait, one caller
  that holds jobs is asked to drain (flag 1): it gets no new jobs and claims again once it holds
  none, so suspects are never starved by busy workers.

  A paused queue (KEYS[23]) leases nothing.

  The jobs a submit handed to the caller while it waited come first (its inbox); a claim that
  comes back short leaves the caller registered as waiting (ARGV[11]).

  Safe to send again: the ids a claim leased are kept (KEYS[35], for a lease), and the same
  claim id sent again is answered with those jobs instead of leasing more, so a claim whose
  reply was lost in a failover is repeated without stranding its jobs until their leases end.

  Input:
    KEYS[1..34]  the namespace layout (includes/common.lua)
    KEYS[35]     claim:<claim id>  (LIST) id, attempt, id, attempt, ... this claim leased
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      count
    ARGV[6]      lease ms
    ARGV[7]      longest job timeout (s) the caller can still finish; 0 = no limit
    ARGV[8]      promotion/recovery limit for this call
    ARGV[9]      how many jobs the caller holds now
    ARGV[10]     the caller's runner id (picks the runner that drains for a suspect)
    ARGV[11]     ms the caller waits for work when this claim comes back short (0: it does not
                 wait): it registers, so a submit hands it jobs (includes/lease.lua)
  Output: {next_wake_ms (-1 = nothing due), flags, job1, job2, ...}, each job the flat HGETALL
    of its hash after the claim (status 'running', attempts incremented); flags 1 = drain.
  Events: 'pending' for promoted/recovered jobs, 'running' for each claimed job (one entry
  for a lease's run of them).
]]
--@include promote_due
--@include lease

local ckey = KEYS[KEY0 + 1]
local count = tonumber(ARGV[ARG0 + 1])
local lease = tonumber(ARGV[ARG0 + 2])
local max_timeout = tonumber(ARGV[ARG0 + 3])
local limit = tonumber(ARGV[ARG0 + 4])
local held = tonumber(ARGV[ARG0 + 5])
local runner = ARGV[ARG0 + 6]
local wait_ms = tonumber(ARGV[ARG0 + 7] or 0)

promote_due(limit)
recover_expired(limit)

local out = {0, 0}
local function reply(jobs)
  for _, j in ipairs(jobs) do out[#out + 1] = j end
  out[1] = next_wake()
  return out
end

-- the same claim again: answer with what it leased (those still held under that attempt)
local prev = rcall('LRANGE', ckey, 0, -1)
if #prev > 0 then
  local jobs = {}
  for i = 1, #prev, 2 do
    local jkey = key.job .. prev[i]
    local f = rcall('HMGET', jkey, 'status', 'attempts')
    if f[1] == 'running' and f[2] == prev[i + 1] then
      jobs[#jobs + 1] = rcall('HGETALL', jkey)
    end
  end
  return reply(jobs)
end

local deadline = 0
if max_timeout > 0 then deadline = NOW + max_timeout * 1000 end
local L = new_lease(lease, deadline, ckey)
-- what a submit handed to the caller while it waited is its own already
if runner ~= '' then collect(L, runner) end
count = count - #L.jobs

-- a paused queue leases nothing (its jobs wait; the ones running finish)
if rcall('EXISTS', key.paused) == 1 then
  if #L.jobs > 0 then rcall('PEXPIRE', ckey, lease) end
  return reply(L.jobs)
end

-- a suspect first, alone; one its group may not start yet waits (its group with it)
local suspect_waits = false
while rcall('LLEN', key.suspects) > 0 and count > 0 do
  local id = rcall('LINDEX', key.suspects, 0)
  local jkey = key.job .. id
  local f = rcall('HMGET', jkey, 'timeout', 'type', 'wf', 'status', 'group', 'attempts')
  if f[4] ~= 'pending' then
    rcall('LPOP', key.suspects)  -- gone (deleted with its workflow) or no longer waiting
  else
    local g = f[5] or ''
    local wait, lim = group_gate(g)
    if wait > 0 then
      group_park(g, wait)
      suspect_waits = true
      break
    end
    if held + #L.jobs > 0 then
      local drainer = rcall('GET', key.drain)
      if not drainer then
        rcall('SET', key.drain, runner, 'PX', lease)
        drainer = runner
      end
      if drainer == runner then
        out[2] = 1
        count = 0
      end
      break
    end
    if not fits(L, f[1]) then break end  -- this caller cannot finish it in time: one with more will
    rcall('LPOP', key.suspects)
    take(L, jkey, id, f, true, f[6])
    group_started(g, lim)
    if rcall('GET', key.drain) == runner then rcall('DEL', key.drain) end
    count = 0
  end
end

local before = #L.jobs
if count > 0 then serve_all(L, before + count) end
lease_flush(L)
if #L.jobs > 0 then rcall('PEXPIRE', ckey, lease) end
local short = #L.jobs - before < count

-- more work left: wake another blocked worker
if ready_left() then WAKE = true end
if not suspect_waits and rcall('EXISTS', key.suspects) == 1 then WAKE = true end
-- came back short: the caller waits for work now, and a submit may hand it some
if short and wait_ms > 0 and runner ~= '' and out[2] == 0 then
  register(runner, count - (#L.jobs - before), lease, deadline, wait_ms)
end
wake_if_needed()
return reply(L.jobs)
