--[[
  unidle: a runner no longer waits for work in this queue (it woke for another queue's work,
  or it stops): it is taken off the waiting runners, and the jobs a submit handed to it here
  meanwhile (leased to it already) come back to it (includes/lease.lua).

  Input:
    KEYS[1..34]  the namespace layout (includes/common.lua)
    ARGV[1..4]   the namespace settings (includes/common.lua)
    ARGV[5]      the runner id
  Output: the handed jobs still leased to it, each the flat HGETALL of its hash when handed.
]]
--@include lease

local L = new_lease(0, 0, nil)
collect(L, ARGV[ARG0 + 1])
return L.jobs
