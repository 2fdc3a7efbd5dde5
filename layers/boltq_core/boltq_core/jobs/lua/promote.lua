--[[
  promote: the promoter's and the janitor's pass. Moves due delayed and retrying jobs to ready,
  recovers expired leases, and deletes finished jobs and workflows older than the retention.

  Input:
    KEYS[1..34]  the namespace layout (includes/common.lua)
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      promotion/recovery limit   ARGV[6] janitor limit
  Output: {promoted, recovered, expired, next_wake_ms (-1 = nothing due)}
]]
--@include promote_due

local limit, jlimit = tonumber(ARGV[ARG0 + 1]), tonumber(ARGV[ARG0 + 2])
local promoted = promote_due(limit)
local recovered = recover_expired(limit)

local expired = 0
local cutoff = NOW - config.retention
for _, zkey in ipairs({key.completed, key.cancelled}) do
  local ids = rcall('ZRANGE', zkey, '-inf', cutoff, 'BYSCORE', 'LIMIT', 0, jlimit)
  if #ids > 0 then
    for _, id in ipairs(ids) do rcall('DEL', key.job .. id) end
    rcall('ZREM', zkey, unpack(ids))
    rcall('ZREM', key.index, unpack(ids))
    expired = expired + #ids
  end
end
local wfs = rcall('ZRANGE', key.wf_done, '-inf', cutoff, 'BYSCORE', 'LIMIT', 0, jlimit)
if #wfs > 0 then
  for _, id in ipairs(wfs) do rcall('DEL', key.wf .. id) end
  rcall('ZREM', key.wf_done, unpack(wfs))
  rcall('ZREM', key.workflows, unpack(wfs))
end
wake_if_needed()
return {promoted, recovered, expired, next_wake()}
