--[[
  list_jobs (read-only): a page of jobs, newest first, optionally filtered by status and type.
  Scans at most ARGV[7] index entries per call, so a page may hold fewer than `limit` jobs and
  still have a next cursor.

  Input:
    KEYS[1..19]  the namespace layout (includes/common.lua)
    ARGV[1..3]   retention ms, events max length, dead-letter max size (unused)
    ARGV[4]      cursor: the sequence to continue below ('+inf' for the first page)
    ARGV[5]      limit   ARGV[6] status filter ('' = any)   ARGV[7] scan budget
    ARGV[8]      type filter ('' = any)
  Output: {next cursor ('' = end), job1, job2, ...} with each job a flat HGETALL.
]]
local rcall = redis.call
local index, jprefix = KEYS[10], KEYS[17]
local cursor, limit, status = ARGV[4], tonumber(ARGV[5]), ARGV[6]
local budget, jtype = tonumber(ARGV[7]), ARGV[8]
local max = cursor
if cursor ~= '+inf' then max = '(' .. cursor end
local entries = rcall('ZRANGE', index, max, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, budget,
  'WITHSCORES')
local out = {''}
local last = nil
for i = 1, #entries, 2 do
  local id = entries[i]
  last = entries[i + 1]
  local f = rcall('HMGET', jprefix .. id, 'status', 'type')
  if f[1] and (status == '' or f[1] == status) and (jtype == '' or f[2] == jtype) then
    out[#out + 1] = rcall('HGETALL', jprefix .. id)
    if #out - 1 >= limit then break end
  end
end
if last and (#entries / 2 >= budget or #out - 1 >= limit) then
  -- stop where we stopped; the next page starts below this sequence
  out[1] = last
end
return out
