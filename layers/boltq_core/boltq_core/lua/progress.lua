--[[
  progress: store a running job's progress (any JSON) and emit it.

  Input:
    KEYS[1..19]  the namespace layout (includes/common.lua)
    KEYS[20]     job:<id>
    ARGV[1..3]   retention ms, events max length, dead-letter max size
    ARGV[4]      job id   ARGV[5] attempt   ARGV[6] progress JSON
  Output: 1 if stored, 0 if the caller no longer holds the job.
]]
--@include common

local jkey, id = KEYS[20], ARGV[4]
local f = rcall('HMGET', jkey, 'status', 'attempts', 'type', 'wf')
if f[1] ~= 'running' or f[2] ~= ARGV[5] then return 0 end
rcall('HSET', jkey, 'progress', ARGV[6])
emit('j', id, f[4], 'running', f[3], ARGV[6])
return 1
