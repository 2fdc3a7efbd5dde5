--[[
  cancel: a pending, scheduled or retrying job is removed from its queue and ends 'cancelled'
  at once; a running job is flagged, its worker sees the flag at the next heartbeat and the
  job ends 'cancelled'. A finished job is left as it is.

  Input:
    KEYS[1..34]  the namespace layout (includes/common.lua)
    KEYS[35]     job:<id>
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      job id
  Output: {status after the call, changed (0|1)}; status 'missing' for an unknown id.
]]
--@include transitions

local jkey, id = KEYS[KEY0 + 1], ARGV[ARG0 + 1]
local job = job_meta(jkey)
if not job then return {'missing', 0} end
return cancel_job(jkey, id, job)
