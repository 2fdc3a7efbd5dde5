--[[
  claim: take up to `count` ready jobs, highest priority first (FIFO within a priority), and
  lease each one to the caller. Due delayed/retrying jobs are promoted and expired leases
  recovered first, so an active worker needs no separate scheduler for precision.

  A suspect (a job whose worker lost its lease while it ran beside others) is only ever leased
  alone, to a caller that holds nothing, and then nothing else is leased with it; its hash gets
  solo='1' and the caller claims nothing more until it ends. While suspects wait, one caller
  that holds jobs is asked to drain (flag 1): it gets no new jobs and claims again once it holds
  none, so suspects are never starved by busy workers.

  A paused queue (KEYS[23]) leases nothing.

  Safe to send again: the ids a claim leased are kept (KEYS[24], for a lease), and the same
  claim id sent again is answered with those jobs instead of leasing more, so a claim whose
  reply was lost in a failover is repeated without stranding its jobs until their leases end.

  Input:
    KEYS[1..23]  the namespace layout (includes/common.lua)
    KEYS[24]     claim:<claim id>  (LIST) id, attempt, id, attempt, ... this claim leased
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      count
    ARGV[6]      lease ms
    ARGV[7]      longest job timeout (s) the caller can still finish; 0 = no limit
    ARGV[8]      promotion/recovery limit for this call
    ARGV[9]      how many jobs the caller holds now
    ARGV[10]     the caller's runner id (picks the runner that drains for a suspect)
  Output: {next_wake_ms (-1 = nothing due), flags, job1, job2, ...}, each job the flat HGETALL
    of its hash after the claim (status 'running', attempts incremented); flags 1 = drain.
  Events: 'pending' for promoted/recovered jobs, 'running' for each claimed job.
]]
--@include promote_due

local ckey = KEYS[KEY0 + 1]
local count = tonumber(ARGV[ARG0 + 1])
local lease = tonumber(ARGV[ARG0 + 2])
local max_timeout = tonumber(ARGV[ARG0 + 3])
local limit = tonumber(ARGV[ARG0 + 4])
local held = tonumber(ARGV[ARG0 + 5])
local runner = ARGV[ARG0 + 6]

promote_due(limit)
recover_expired(limit)

local out = {0, 0}

-- the same claim again: answer with what it leased (those still held under that attempt)
local prev = rcall('LRANGE', ckey, 0, -1)
if #prev > 0 then
  for i = 1, #prev, 2 do
    local jkey = key.job .. prev[i]
    local f = rcall('HMGET', jkey, 'status', 'attempts')
    if f[1] == 'running' and f[2] == prev[i + 1] then
      out[#out + 1] = rcall('HGETALL', jkey)
    end
  end
  out[1] = next_wake()
  return out
end

-- a paused queue leases nothing (its jobs wait; the ones running finish)
if rcall('EXISTS', key.paused) == 1 then
  out[1] = next_wake()
  return out
end

local function fits(timeout)
  return max_timeout <= 0 or tonumber(timeout) <= max_timeout
end

local function take(jkey, id, f, solo)
  local attempt = rcall('HINCRBY', jkey, 'attempts', 1)
  if solo then
    rcall('HSET', jkey, 'status', 'running', 'started', NOW, 'solo', '1')
  else
    rcall('HSET', jkey, 'status', 'running', 'started', NOW)
  end
  rcall('ZADD', key.active, NOW + lease, id)
  rcall('RPUSH', ckey, id, attempt)
  emit('j', id, f[3], 'running', f[2])
  out[#out + 1] = rcall('HGETALL', jkey)
end

while rcall('LLEN', key.suspects) > 0 and count > 0 do
  if held > 0 then
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
  local id = rcall('LINDEX', key.suspects, 0)
  local jkey = key.job .. id
  local f = rcall('HMGET', jkey, 'timeout', 'type', 'wf', 'status')
  if f[4] ~= 'pending' then
    rcall('LPOP', key.suspects)  -- gone (deleted with its workflow) or no longer waiting
  elseif fits(f[1]) then
    rcall('LPOP', key.suspects)
    take(jkey, id, f, true)
    if rcall('GET', key.drain) == runner then rcall('DEL', key.drain) end
    count = 0
  else
    break  -- this caller cannot finish it in time: one with more time left will
  end
end

for p = 1, 3 do
  local want = count - (#out - 2)
  if want <= 0 then break end
  local ids = rcall('LPOP', key.ready[p], want)
  if ids then
    for i, id in ipairs(ids) do
      local jkey = key.job .. id
      local f = rcall('HMGET', jkey, 'timeout', 'type', 'wf')
      if f[1] then
        if not fits(f[1]) then
          -- the caller could not finish it: hand this and the rest back, in order
          for j = #ids, i, -1 do rcall('LPUSH', key.ready[p], ids[j]) end
          count = 0
          break
        end
        take(jkey, id, f, false)
      end
    end
  end
end
if #out > 2 then rcall('PEXPIRE', ckey, lease) end

-- more work left: wake another blocked worker
for p = 1, 3 do
  if rcall('LLEN', key.ready[p]) > 0 then
    WAKE = true
    break
  end
end
if rcall('LLEN', key.suspects) > 0 then WAKE = true end
wake_if_needed()
out[1] = next_wake()
return out
