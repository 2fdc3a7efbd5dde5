--[[
  progress: store a running job's progress (any JSON) and emit it.

  Input:
    KEYS[1..34]  the namespace layout (includes/common.lua)
    KEYS[35]     job:<id>
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      job id   ARGV[6] attempt   ARGV[7] progress JSON
  Output: 1 if stored, 0 if the caller no longer holds the job.
]]
--@include common

local jkey, id = KEYS[KEY0 + 1], ARGV[ARG0 + 1]
local f = rcall('HMGET', jkey, 'status', 'attempts', 'type', 'wf')
if f[1] ~= 'running' or f[2] ~= ARGV[ARG0 + 2] then return 0 end
rcall('HSET', jkey, 'progress', ARGV[ARG0 + 3])
emit('j', id, f[4], 'running', f[3], ARGV[ARG0 + 3])
return 1
