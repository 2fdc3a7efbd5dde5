--[[
  Groups (SPEC §13): fair share between groups and their limits, inside one queue.

  A ready job waits in its group's list for its priority: gq:<p>:<group>, or ready:<p> for the
  jobs that name no group (they share the group ''). A priority's ring (gring:<p>) holds each
  group with ready jobs there that may start one now, in turn order: a claim takes the first
  group's first job and sends the group to the back, so groups take turns and each group is
  FIFO, at O(log groups) a job. A group alone in its ring gives a whole batch at once.

  A group that may not start a job now is out of every ring and in gwait: with the ms it may
  start again (a full rate window, or a hold after a processor raised RateLimited), or +inf
  while as many of its jobs run as its concurrency limit allows (the end of one of them lets it
  back). A claim lets the due ones back, and the earliest is part of its next wake, so a worker
  sleeps until a limited group may go and never spins on one.

  gstate (HASH) fields:
    turn          the rings' turn counter
    limits        the queue's default limits "<concurrency>|<rate max>|<rate per ms>" (a part
                  left empty: no such limit)
    lim:<group>   a group's own limits, in the same form (they replace the default whole)
    run:<group>   its jobs leased now (absent: none)
    hold:<group>  ms until which it waits after a processor raised RateLimited
    ready:<p>     the named groups' ready jobs at priority p (beside LLEN ready:<p>)
  Starts of a rate-limited group inside its window: gq:s:<group> (LIST of ms, oldest first).
  The ungrouped jobs' group '' has no limits (only a RateLimited hold stops it).
]]
--@include common

local INF = 1 / 0  -- math.huge: the library loader has no math table

-- The list group g's ready jobs of priority index p (1..3) wait in.
local function glist(g, p)
  if g == '' then return key.ready[p] end
  return key.gq .. (p - 1) .. ':' .. g
end

local function parse_limits(raw)
  if not raw or raw == '' then return nil end
  local c, m, per = string.match(raw, '^(%d*)|(%d*)|(%d*)$')
  if not c or (c == '' and m == '') then return nil end
  return {conc = tonumber(c), max = tonumber(m), per = tonumber(per)}
end

-- When group g may start a job: 0 = now, else the ms it may (INF: when one of its jobs ends);
-- and its limits (nil: none).
local function group_gate(g)
  local f = rcall('HMGET', key.gstate, 'hold:' .. g, 'run:' .. g, 'lim:' .. g, 'limits')
  local wait = 0
  local hold = tonumber(f[1])
  if hold and hold > NOW then wait = hold end
  if g == '' then return wait, nil end
  local lim = parse_limits(f[3] or f[4])
  if not lim then return wait, nil end
  if lim.conc and tonumber(f[2] or 0) >= lim.conc then return INF, lim end
  if lim.max and wait == 0 then
    -- the starts that left the window go; the ones left are the window's
    local skey = key.gq .. 's:' .. g
    local first = rcall('LINDEX', skey, 0)
    while first and tonumber(first) <= NOW - lim.per do
      rcall('LPOP', skey)
      first = rcall('LINDEX', skey, 0)
    end
    if first and rcall('LLEN', skey) >= lim.max then wait = tonumber(first) + lim.per end
  end
  return wait, lim
end

-- A job of group g was leased (`lim` from group_gate).
local function group_started(g, lim)
  if g == '' then return end
  rcall('HINCRBY', key.gstate, 'run:' .. g, 1)
  if lim and lim.max then
    local skey = key.gq .. 's:' .. g
    rcall('RPUSH', skey, NOW)
    rcall('PEXPIRE', skey, lim.per)
  end
end

-- Group g goes to the back of priority p's ring.
local function ring_add(g, p)
  rcall('ZADD', key.ring[p], rcall('HINCRBY', key.gstate, 'turn', 1), g)
end

local function parked(g)
  return rcall('ZSCORE', key.gwait, g) ~= false
end

-- Group g has ready jobs at priority p: in that ring unless it is there already or held back.
local function ring_join(g, p)
  if not rcall('ZSCORE', key.ring[p], g) and not parked(g) then ring_add(g, p) end
end

local function group_park(g, wait)
  for p = 1, 3 do rcall('ZREM', key.ring[p], g) end
  rcall('ZADD', key.gwait, wait == INF and '+inf' or wait, g)
end

-- A named group with nothing ready, nothing running, no limits of its own and not held back
-- leaves the list of groups.
local function group_forget(g)
  if g == '' or parked(g) then return end
  local f = rcall('HMGET', key.gstate, 'run:' .. g, 'lim:' .. g, 'hold:' .. g)
  if f[1] or f[2] then return end
  for p = 1, 3 do
    if rcall('EXISTS', glist(g, p)) == 1 then return end
  end
  if f[3] then rcall('HDEL', key.gstate, 'hold:' .. g) end
  rcall('ZREM', key.groups, g)
end

-- Group g leaves gwait: back in the rings where it has ready jobs, or parked again when a
-- limit still holds it.
local function group_release(g)
  rcall('ZREM', key.gwait, g)
  local ready = {}
  for p = 1, 3 do ready[p] = rcall('EXISTS', glist(g, p)) == 1 end
  if not (ready[1] or ready[2] or ready[3]) then
    group_forget(g)
    return
  end
  local wait = group_gate(g)
  if wait > 0 then
    rcall('ZADD', key.gwait, wait == INF and '+inf' or wait, g)
    return
  end
  for p = 1, 3 do
    if ready[p] then ring_add(g, p) end
  end
  WAKE = true
end

-- Let the groups whose wait is over back (at most `limit`).
local function release_groups(limit)
  local gs = rcall('ZRANGE', key.gwait, '-inf', NOW, 'BYSCORE', 'LIMIT', 0, limit)
  for _, g in ipairs(gs) do group_release(g) end
end

-- A leased job of group g stopped running (it ended, will retry, or lost its lease).
local function group_ended(g)
  if g == '' then return end
  local run = rcall('HINCRBY', key.gstate, 'run:' .. g, -1)
  if run <= 0 then rcall('HDEL', key.gstate, 'run:' .. g) end
  local s = rcall('ZSCORE', key.gwait, g)
  if s and tonumber(s) == INF then group_release(g) end
  if run <= 0 then group_forget(g) end
  -- a suspect of this group may wait for the slot
  if rcall('EXISTS', key.suspects) == 1 then WAKE = true end
end

local function queued(g, p, n)
  if g ~= '' then
    rcall('HINCRBY', key.gstate, 'ready:' .. (p - 1), n)
    if n > 0 then rcall('ZADD', key.groups, 0, g) end
  end
end

-- Job `id` is ready: at the back of its group's list (at the front with `front`).
local function push_ready(id, prio, g, front)
  g = g or ''
  local p = tonumber(prio) + 1
  -- an ungrouped job of a bulk submit: pushed with the others by batch_flush_jobs
  if BATCH and BATCH.ready and g == '' and not front then
    local ids = BATCH.ready[p]
    ids[#ids + 1] = id
    WAKE = true
    return
  end
  rcall(front and 'LPUSH' or 'RPUSH', glist(g, p), id)
  queued(g, p, 1)
  ring_join(g, p)
  WAKE = true
end

-- Take a pending job out of the list it waits in (its group's, or the suspects').
local function unready(id, prio, g)
  g = g or ''
  local p = tonumber(prio) + 1
  local list = glist(g, p)
  if rcall('LREM', list, 1, id) == 0 then
    rcall('LREM', key.suspects, 1, id)
    return
  end
  queued(g, p, -1)
  if rcall('EXISTS', list) == 0 then
    rcall('ZREM', key.ring[p], g)
    group_forget(g)
  end
end
