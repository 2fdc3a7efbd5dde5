--[[
  extend: the heartbeat. Renews the lease of jobs the caller still holds and reports which of
  them were asked to cancel.

  Input:
    KEYS[1..34]  the namespace layout (includes/common.lua)
    KEYS[35..]   job:<id> for each job
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      lease ms
    ARGV[6..]    pairs: job id, attempt the caller holds
  Output: {{ids whose lease was lost}, {ids asked to cancel}}
]]
--@include common

local lease = tonumber(ARGV[ARG0 + 1])
local lost, cancel = {}, {}
for i = 0, (#ARGV - ARG0 - 1) / 2 - 1 do
  local id, attempt = ARGV[ARG0 + 2 + i * 2], ARGV[ARG0 + 3 + i * 2]
  local jkey = KEYS[KEY0 + 1 + i]
  local f = rcall('HMGET', jkey, 'status', 'attempts', 'cancel')
  if f[1] == 'running' and f[2] == attempt and rcall('ZSCORE', key.active, id) then
    rcall('ZADD', key.active, 'XX', NOW + lease, id)
    if f[3] == '1' then cancel[#cancel + 1] = id end
  else
    lost[#lost + 1] = id
  end
end
return {lost, cancel}
