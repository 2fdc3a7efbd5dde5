--[[
  group_limits: set or clear the queue's default group limits or one group's own, applied from
  the next claim: every group a limit holds back now is looked at again (let back when the new
  limits allow it, held with its new wait otherwise), and the groups in the rings are checked
  when their turn comes.

  Input:
    KEYS[1..34]  the namespace layout (includes/common.lua)
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      whose: 'queue' (the default of every group) or 'group'
    ARGV[6]      the group ('queue': unused)
    ARGV[7]      the limits "<concurrency>|<rate max>|<rate per ms>" (a part empty: no such
                 limit), or '' to clear them
  Output: the number of held-back groups looked at again.
]]
--@include groups

local whose, g, limits = ARGV[ARG0 + 1], ARGV[ARG0 + 2], ARGV[ARG0 + 3]
local field = whose == 'queue' and 'limits' or ('lim:' .. g)
if limits == '' then
  rcall('HDEL', key.gstate, field)
else
  rcall('HSET', key.gstate, field, limits)
  if whose == 'group' then rcall('ZADD', key.groups, 0, g) end
end
local held
if whose == 'queue' then
  held = rcall('ZRANGE', key.gwait, 0, -1)
elseif parked(g) then
  held = {g}
else
  held = {}
  group_forget(g)
end
for _, h in ipairs(held) do group_release(h) end
wake_if_needed()
return #held
