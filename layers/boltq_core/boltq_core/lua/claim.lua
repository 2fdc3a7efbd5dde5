--[[
  claim: take up to `count` ready jobs, highest priority first (FIFO within a priority), and
  lease each one to the caller. Due delayed/retrying jobs are promoted and expired leases
  recovered first, so an active worker needs no separate scheduler for precision.

  Input:
    KEYS[1..19]  the namespace layout (includes/common.lua)
    ARGV[1..3]   retention ms, events max length, dead-letter max size
    ARGV[4]      count
    ARGV[5]      lease ms
    ARGV[6]      longest job timeout (s) the caller can still finish; 0 = no limit
    ARGV[7]      promotion/recovery limit for this call
  Output: {next_wake_ms (-1 = nothing due), job1, job2, ...}, each job the flat HGETALL of its
    hash after the claim (status 'running', attempts incremented).
  Events: 'pending' for promoted/recovered jobs, 'running' for each claimed job.
]]
--@include common
--@include create_job
--@include workflow
--@include transitions
--@include promote_due

local count = tonumber(ARGV[4])
local lease = tonumber(ARGV[5])
local max_timeout = tonumber(ARGV[6])
local limit = tonumber(ARGV[7])

promote_due(limit)
recover_expired(limit)

local out = {0}
for p = 1, 3 do
  local want = count - (#out - 1)
  if want <= 0 then break end
  local ids = rcall('LPOP', K.ready[p], want)
  if ids then
    for i, id in ipairs(ids) do
      local jkey = K.job .. id
      local f = rcall('HMGET', jkey, 'timeout', 'type', 'wf')
      if f[1] then
        if max_timeout > 0 and tonumber(f[1]) > max_timeout then
          -- the caller could not finish it: hand this and the rest back, in order
          for j = #ids, i, -1 do rcall('LPUSH', K.ready[p], ids[j]) end
          count = 0
          break
        end
        rcall('HINCRBY', jkey, 'attempts', 1)
        rcall('HSET', jkey, 'status', 'running', 'started', NOW)
        rcall('ZADD', K.active, NOW + lease, id)
        emit('j', id, f[3], 'running', f[2])
        out[#out + 1] = rcall('HGETALL', jkey)
      end
    end
  end
end

-- more work left: wake another blocked worker
for p = 1, 3 do
  if rcall('LLEN', K.ready[p]) > 0 then
    WAKE = true
    break
  end
end
wake_if_needed()
out[1] = next_wake()
return out
