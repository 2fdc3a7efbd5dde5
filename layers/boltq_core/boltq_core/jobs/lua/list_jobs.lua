--[[
  list_jobs (read-only): a page of job summaries (no data, result or parent results: a page
  stays small whatever the jobs carry), newest first, optionally filtered by status and type.
  Scans at most ARGV[8] index entries per call, so a page may hold fewer than `limit` jobs and
  still have a next cursor.

  Input:
    KEYS[1..34]  the namespace layout (includes/common.lua)
    ARGV[1..4]   the namespace settings (unused)
    ARGV[5]      cursor: the sequence to continue below ('+inf' for the first page)
    ARGV[6]      limit   ARGV[7] status filter ('' = any)   ARGV[8] scan budget
    ARGV[9]      type filter ('' = any)
    ARGV[10..]   the fields a summary shows, 'status' and 'type' first
  Output: {next cursor ('' = end), job1, job2, ...} with each job a flat list of field, value.
]]
--@include common

local cursor, limit, status = ARGV[ARG0 + 1], tonumber(ARGV[ARG0 + 2]), ARGV[ARG0 + 3]
local budget, jtype = tonumber(ARGV[ARG0 + 4]), ARGV[ARG0 + 5]
local SUMMARY = {unpack(ARGV, ARG0 + 6)}
local max = cursor
if cursor ~= '+inf' then max = '(' .. cursor end
local entries = rcall('ZRANGE', key.index, max, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, budget,
  'WITHSCORES')
local out = {''}
local last = nil
for i = 1, #entries, 2 do
  local id = entries[i]
  last = entries[i + 1]
  local f = rcall('HMGET', key.job .. id, unpack(SUMMARY))
  if f[1] and (status == '' or f[1] == status) and (jtype == '' or f[2] == jtype) then
    local job = {}
    for j, name in ipairs(SUMMARY) do
      if f[j] then
        job[#job + 1] = name
        job[#job + 1] = f[j]
      end
    end
    out[#out + 1] = job
    if #out - 1 >= limit then break end
  end
end
if last and (#entries / 2 >= budget or #out - 1 >= limit) then
  -- stop where we stopped; the next page starts below this sequence
  out[1] = last
end
return out
