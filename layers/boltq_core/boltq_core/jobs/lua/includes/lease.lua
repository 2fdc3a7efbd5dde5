--[[
  Leasing ready jobs: what a claim does for the runner that asks, and what a submit does for a
  runner that waits (a hand-off, so that an idle runner's blocking pop returns the job itself
  and no claim follows its wake-up).

  A lease in the making (new_lease) gathers the leased jobs' hashes in `jobs`; `record`, when
  set, is the claim's record (claim:<id>: id, attempt, ...) for a resend; `deadline` is the ms
  by which a job must be able to end (0: none), so a runner with little time left (a Lambda
  near its end) gets no job it could not finish.

  A runner whose claim came back short registers as waiting (register): in `idle` until the
  end of its wait, with what it may take in `idlecap`. A submit then hands its new ready jobs
  to the runner that registered last (hand_off): leased to it, with the same turns, limits and
  priorities as a claim, into its inbox, which the runner's blocking pop (BZMPOP over its inbox
  and the marker) returns. Never while the queue is paused or a suspect waits (a suspect goes
  to a claim, alone). The runner's next claim, or an unidle, takes it off `idle` and collects
  whatever its inbox still holds (collect). A runner that died with jobs in its inbox loses
  nothing: their leases lapse and they run again.
]]
--@include groups

local function new_lease(lease_ms, deadline_ms, record)
  return {jobs = {}, lease = tonumber(lease_ms), deadline = tonumber(deadline_ms),
    record = record, active = {}, taken = {}}
end

local function fits(L, timeout)
  return L.deadline <= 0 or NOW + tonumber(timeout) * 1000 <= L.deadline
end

-- Lease job `id` (its hash at jkey; f = its timeout, type, wf; `attempts` its claims so far)
-- to the lease L. Its lease deadline in active and its line in the claim's record are written
-- for all of L's jobs at once, and their 'running' events as runs (lease_flush).
local function take(L, jkey, id, f, solo, attempts)
  if L.runs == nil then L.runs = runs_begin() end  -- false: the call gathers them already
  local attempt = tonumber(attempts or 0) + 1
  if solo then
    rcall('HSET', jkey, 'status', 'running', 'started', NOW, 'attempts', attempt, 'solo', '1')
  else
    rcall('HSET', jkey, 'status', 'running', 'started', NOW, 'attempts', attempt)
  end
  local active = L.active
  active[#active + 1] = NOW + L.lease
  active[#active + 1] = id
  if L.record then
    local taken = L.taken
    taken[#taken + 1] = id
    taken[#taken + 1] = attempt
  end
  emit('j', id, f[3], 'running', f[2])
  L.jobs[#L.jobs + 1] = rcall('HGETALL', jkey)
end

-- The lease deadlines, record lines and 'running' events of the jobs take() leased to L since
-- the last flush.
local function lease_flush(L)
  if L.runs then runs_end() end
  L.runs = nil
  if #L.active > 0 then
    rcall_slices('ZADD', key.active, L.active, 1000)
    L.active = {}
  end
  if #L.taken > 0 then
    rcall_slices('RPUSH', L.record, L.taken, 1000)
    L.taken = {}
  end
end

-- Lease up to `want` ready jobs of priority index p to L, the ring's groups taking turns.
-- Returns how many, and false when L could not finish the next one in time (lease no more).
local function serve(L, p, want)
  local ring = key.ring[p]
  local taken = 0
  -- each turn leases a job or sets a group aside: a bound on the groups one call looks at
  local turns = 2 * want + 16
  while taken < want and turns > 0 do
    turns = turns - 1
    local g = rcall('ZRANGE', ring, 0, 0)[1]
    if not g then break end
    local wait, lim = group_gate(g)
    if wait > 0 then
      group_park(g, wait)
    else
      local list = glist(g, p)
      local alone = rcall('ZCARD', ring) == 1
      -- a group alone and unlimited gives the whole batch; otherwise one job a turn
      local ids = rcall('LPOP', list, (alone and not lim) and (want - taken) or 1)
      if not ids then
        rcall('ZREM', ring, g)
      else
        local popped = #ids
        for i, id in ipairs(ids) do
          local jkey = key.job .. id
          local f = rcall('HMGET', jkey, 'timeout', 'type', 'wf', 'attempts')
          if f[1] then
            if not fits(L, f[1]) then
              -- it could not be finished in time: hand this and the rest back, in order
              for j = #ids, i, -1 do rcall('LPUSH', list, ids[j]) end
              queued(g, p, -(i - 1))
              return taken, false
            end
            take(L, jkey, id, f, false, f[4])
            group_started(g, lim)
            taken = taken + 1
          end
        end
        queued(g, p, -popped)
        if rcall('EXISTS', list) == 0 then
          rcall('ZREM', ring, g)
        elseif not alone then
          ring_add(g, p)
        end
      end
    end
  end
  return taken, true
end

-- Up to `count` jobs of every priority, highest first.
local function serve_all(L, count)
  for p = 1, 3 do
    local want = count - #L.jobs
    if want <= 0 then return end
    local _, more = serve(L, p, want)
    if not more then return end
  end
end

local function ready_left()
  for p = 1, 3 do
    if rcall('EXISTS', key.ring[p]) == 1 then return true end
  end
  return false
end

-- `runner` waits for wait_ms and may take `cap` jobs, leased for lease_ms, that end by
-- deadline_ms (0: any).
local function register(runner, cap, lease_ms, deadline_ms, wait_ms)
  rcall('ZADD', key.idle, NOW + wait_ms, runner)
  rcall('HSET', key.idlecap, runner, cap .. '|' .. lease_ms .. '|' .. deadline_ms)
end

-- `runner` no longer waits: what its inbox holds and is still leased to it (under the attempt
-- it was handed with) goes to L.
local function collect(L, runner)
  rcall('ZREM', key.idle, runner)
  rcall('HDEL', key.idlecap, runner)
  local inbox = key.inbox .. runner
  local items = rcall('ZRANGE', inbox, 0, -1)
  if #items == 0 then return end
  rcall('DEL', inbox)
  for _, raw in ipairs(items) do
    local flat = cjson.decode(raw)
    local h = {}
    for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
    local f = rcall('HMGET', key.job .. h.id, 'status', 'attempts')
    if f[1] == 'running' and f[2] == h.attempts then
      L.jobs[#L.jobs + 1] = flat
      if L.record then rcall('RPUSH', L.record, h.id, h.attempts) end
    end
  end
end

-- Hand the ready jobs to the runners that wait, the last to register first (the work stays
-- with few runners, so spare ones can retire). True when any was handed.
local function hand_off()
  if rcall('EXISTS', key.idle) == 0 or rcall('EXISTS', key.paused) == 1
      or rcall('EXISTS', key.suspects) == 1 then
    return false
  end
  for _, gone in ipairs(rcall('ZRANGE', key.idle, '-inf', NOW - 1, 'BYSCORE', 'LIMIT', 0, 16)) do
    rcall('ZREM', key.idle, gone)
    rcall('HDEL', key.idlecap, gone)
  end
  local handed = false
  while ready_left() do
    local w = rcall('ZRANGE', key.idle, '+inf', NOW, 'BYSCORE', 'REV', 'LIMIT', 0, 1)[1]
    if not w then break end
    local cap, lease_ms, deadline = string.match(rcall('HGET', key.idlecap, w) or '',
      '^(%d+)|(%d+)|(%d+)$')
    if not cap then
      rcall('ZREM', key.idle, w)
    else
      local L = new_lease(lease_ms, deadline, nil)
      serve_all(L, tonumber(cap))
      lease_flush(L)
      if #L.jobs == 0 then break end  -- nothing it may take now: it stays waiting
      rcall('ZREM', key.idle, w)
      rcall('HDEL', key.idlecap, w)
      local inbox = key.inbox .. w
      for i, job in ipairs(L.jobs) do rcall('ZADD', inbox, i, cjson.encode(job)) end
      rcall('PEXPIRE', inbox, L.lease)
      handed = true
    end
  end
  return handed
end
