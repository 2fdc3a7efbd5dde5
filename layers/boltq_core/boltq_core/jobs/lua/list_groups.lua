--[[
  list_groups (read-only): a page of the queue's named groups, by name, each with its ready
  and running jobs, when a limit lets it start again and its limits.

  Input:
    KEYS[1..34]  the namespace layout (includes/common.lua)
    ARGV[1..4]   the namespace settings (unused)
    ARGV[5]      cursor: the last name of the page before ('' for the first page)
    ARGV[6]      limit
  Output: {the queue's default limits ('' = none), then 6 fields per group: name, ready,
    running, held until (ms; 'inf' = until one of its jobs ends; '' = not held), its own limits
    ('' = none: the default applies), 1 when it has limits of its own else 0}
]]
--@include groups

local cursor, limit = ARGV[ARG0 + 1], tonumber(ARGV[ARG0 + 2])
local from = cursor == '' and '-' or ('(' .. cursor)
local names = rcall('ZRANGE', key.groups, from, '+', 'BYLEX', 'LIMIT', 0, limit)
local out = {rcall('HGET', key.gstate, 'limits') or ''}
for _, g in ipairs(names) do
  local ready = 0
  for p = 1, 3 do ready = ready + rcall('LLEN', glist(g, p)) end
  local f = rcall('HMGET', key.gstate, 'run:' .. g, 'lim:' .. g)
  local held = rcall('ZSCORE', key.gwait, g)
  if held and tonumber(held) == INF then held = 'inf' end
  out[#out + 1] = g
  out[#out + 1] = ready
  out[#out + 1] = tonumber(f[1] or 0)
  out[#out + 1] = held or ''
  out[#out + 1] = f[2] or ''
  out[#out + 1] = f[2] and 1 or 0
end
return out
