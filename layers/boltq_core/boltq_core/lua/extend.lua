--[[
  extend: the heartbeat. Renews the lease of jobs the caller still holds and reports which of
  them were asked to cancel.

  Input:
    KEYS[1..19]  the namespace layout (includes/common.lua)
    KEYS[20..]   job:<id> for each job
    ARGV[1..3]   retention ms, events max length, dead-letter max size
    ARGV[4]      lease ms
    ARGV[5..]    pairs: job id, attempt the caller holds
  Output: {{ids whose lease was lost}, {ids asked to cancel}}
]]
--@include common

local lease = tonumber(ARGV[4])
local lost, cancel = {}, {}
for i = 0, (#ARGV - 4) / 2 - 1 do
  local id, attempt = ARGV[5 + i * 2], ARGV[6 + i * 2]
  local jkey = KEYS[20 + i]
  local f = rcall('HMGET', jkey, 'status', 'attempts', 'cancel')
  if f[1] == 'running' and f[2] == attempt and rcall('ZSCORE', K.active, id) then
    rcall('ZADD', K.active, 'XX', NOW + lease, id)
    if f[3] == '1' then cancel[#cancel + 1] = id end
  else
    lost[#lost + 1] = id
  end
end
return {lost, cancel}
