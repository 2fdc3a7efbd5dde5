--[[
  Shared prologue of every BoltQ script: the namespace key layout and settings.

  Every key below carries the same hash tag, the queue's ("{<prefix>}" for the default queue,
  "{<prefix>:<queue>}" for a named one), so a whole queue lives in one cluster slot. KEYS[17..19], KEYS[30] and KEYS[33] are key *prefixes* (they end in ':'): a script appends a job or
  workflow id to them only for ids it discovers itself (popped from a list, children of a
  workflow step); keys the caller can name are passed whole after the common ones, from
  KEYS[KEY0 + 1]; the call's own arguments start at ARGV[ARG0 + 1].

  KEYS[1..3]  ready:0 ready:1 ready:2  (LIST)  ready job ids per priority, FIFO
  KEYS[4]     scheduled   (ZSET)  delayed job ids, score = due ms
  KEYS[5]     retrying    (ZSET)  job ids waiting for their next attempt, score = due ms
  KEYS[6]     active      (ZSET)  running job ids, score = lease deadline ms
  KEYS[7]     completed   (ZSET)  score = finished ms (retention janitor)
  KEYS[8]     cancelled   (ZSET)  score = finished ms (retention janitor)
  KEYS[9]     dlq         (ZSET)  dead-letter job ids, score = failed ms (bounded)
  KEYS[10]    jobs        (ZSET)  every stored job id, score = submit sequence
  KEYS[11]    stats       (HASH)  counters "submitted|type|prio", "processed|type|status", ...
  KEYS[12]    events      (STREAM) every state change, capped: k (j job, w workflow, o relay
                                  wake-up), id, wf, st, ty, ts [, p progress]; a run of
                                  like job events of one call shares an entry, its ids
                                  space-separated in 'ids' (emit)
  KEYS[13]    marker      (ZSET)  wakes workers blocked in BZMPOP
  KEYS[14]    seq         (STRING) submit sequence counter
  KEYS[15]    workflows   (ZSET)  workflow ids, score = sequence
  KEYS[16]    wf_done     (ZSET)  finished workflow ids, score = finished ms (retention janitor)
  KEYS[17]    job:        prefix of job hashes
  KEYS[18]    wf:         prefix of workflow hashes
  KEYS[19]    idem:       prefix of idempotency keys
  KEYS[20]    types       (SET)   job types counted under their own name in stats (at most
                                  ARGV[4]; the jobs of any further type carry tl='other')
  KEYS[21]    suspects    (LIST)  jobs whose worker lost its lease while they ran beside other
                                  jobs: each runs alone next (a claim by a runner holding none)
  KEYS[22]    drain       (STRING) the runner asked to finish what it holds so that it can take
                                  a suspect alone (expires after a lease)
  KEYS[23]    paused      (STRING) '1' while the queue is paused: jobs are accepted, none is
                                  claimed (running ones finish)
  KEYS[24..26] gring:0..2 (ZSET)  per priority, the groups with ready jobs that may start one
                                  now, in round-robin order (score = turn)
  KEYS[27]    gwait       (ZSET)  groups held back by a limit, score = ms they may go again
                                  (+inf: at their concurrency limit, until one of theirs ends)
  KEYS[28]    gstate      (HASH)  the groups' counters and limits (includes/groups.lua)
  KEYS[29]    groups      (ZSET)  the named groups with jobs ready or running or limits of their
                                  own, score 0 (listed by name)
  KEYS[30]    gq:         prefix of the groups' lists: gq:<prio>:<group> ready ids,
                                  gq:s:<group> start times inside a rate window
  KEYS[31]    idle        (ZSET)  runners blocked waiting for work that a submit may hand jobs
                                  to, score = ms their wait ends (includes/lease.lua)
  KEYS[32]    idlecap     (HASH)  runner -> "<how many jobs>|<lease ms>|<deadline ms, 0: none>"
  KEYS[33]    inbox:      prefix of the runners' inboxes: inbox:<runner> (ZSET) the JSON of
                                  each job handed to it (leased to it already), score = order
  KEYS[34]    outbox      (LIST)  JSON messages for other queues (a workflow step in another
                                  queue: release it, or tell its workflow how it ended), which
                                  jobs.relay delivers (includes/outbox.lua)

  ARGV[1] retention ms   ARGV[2] events stream max length   ARGV[3] dead-letter max size
  ARGV[4] how many job types get their own stats label

  Job hash fields besides the job's own: attempts (claims so far), free (claims that lost their
  lease beside other jobs and are not charged against max_attempts), solo ('1' while it runs
  alone as a suspect), tl (stats label when it is not the type), cancel ('1' asked to stop),
  group (its group; absent = the ungrouped jobs' group).
]]
local KEY0, ARG0 = 34, 4
-- The call's own state. A script (EVAL) runs the block below as it stands; in the function
-- library (boltq_core.jobs.scripts) the block becomes begin_call(), run at the start of every
-- FCALL, while everything else here is defined once when the library loads.
local rcall, key, config, NOW, WAKE, BATCH, RUNS
--@begin_call
rcall = redis.call  -- not there while a library loads
key = {
  ready = {KEYS[1], KEYS[2], KEYS[3]},
  scheduled = KEYS[4], retrying = KEYS[5], active = KEYS[6],
  completed = KEYS[7], cancelled = KEYS[8], dlq = KEYS[9], index = KEYS[10],
  stats = KEYS[11], events = KEYS[12], marker = KEYS[13], seq = KEYS[14],
  workflows = KEYS[15], wf_done = KEYS[16],
  job = KEYS[17], wf = KEYS[18], idem = KEYS[19],
  types = KEYS[20], suspects = KEYS[21], drain = KEYS[22], paused = KEYS[23],
  ring = {KEYS[24], KEYS[25], KEYS[26]}, gwait = KEYS[27], gstate = KEYS[28],
  groups = KEYS[29], gq = KEYS[30], idle = KEYS[31], idlecap = KEYS[32], inbox = KEYS[33],
  outbox = KEYS[34],
}
config = {
  retention = tonumber(ARGV[1]), events_max = tonumber(ARGV[2]), dlq_max = tonumber(ARGV[3]),
  types_max = tonumber(ARGV[4]),
}
do
  local t = rcall('TIME')
  NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
WAKE = false  -- set when a job became ready, so the script ends by waking one blocked worker
BATCH = nil  -- see batch_begin
RUNS = nil  -- see emit
--@end_call

-- Append one entry to the events stream (kind 'j' = job, 'w' = workflow): one change's `id`
-- under 'id', or a run's space-separated ids under 'ids' (idf).
local function xadd_event(kind, idf, id, wf, status, jtype, progress)
  if progress then
    rcall('XADD', key.events, 'MAXLEN', '~', config.events_max, '*', 'k', kind, idf, id,
      'wf', wf or '', 'st', status, 'ty', jtype or '', 'ts', NOW, 'p', progress)
  else
    rcall('XADD', key.events, 'MAXLEN', '~', config.events_max, '*', 'k', kind, idf, id,
      'wf', wf or '', 'st', status, 'ty', jtype or '', 'ts', NOW)
  end
end

-- The job events gathered in a row (emit), as one entry; a run of one as a single change.
local function flush_run()
  local run = RUNS and RUNS.run
  if not run then return end
  RUNS.run = nil
  if #run.ids == 1 then return xadd_event('j', 'id', run.ids[1], run.wf, run.st, run.ty) end
  xadd_event('j', 'ids', table.concat(run.ids, ' '), run.wf, run.st, run.ty)
end

-- Job events are gathered into runs from here (true when this call started it) until
-- runs_end: a batching call's (batch_begin) and a lease's (includes/lease.lua).
local function runs_begin()
  if RUNS then return false end
  RUNS = {}
  return true
end

local function runs_end()
  flush_run()
  RUNS = nil
end

-- A job's or workflow's state change. While runs are gathered (runs_begin) job events in a row
-- of the same status, type and workflow share one stream entry of up to EVENT_RUN ids: one
-- XADD a run instead of one a job, and the stream's order is kept (boltq_core.jobs.event_log
-- reads a run back as one event per job). EVENT_RUN bounds an entry's size, and so the
-- stream's memory under its cap of entries (EVENTS_MAX_LENGTH): a run of 50 is about 1.5 KB
-- against about 80 B for one job's entry, and already saves 49 XADDs of 50.
local EVENT_RUN = 50
local function emit(kind, id, wf, status, jtype, progress)
  if not RUNS or kind ~= 'j' or progress then
    flush_run()
    return xadd_event(kind, 'id', id, wf, status, jtype, progress)
  end
  wf, jtype = wf or '', jtype or ''
  local run = RUNS.run
  if run and (run.st ~= status or run.ty ~= jtype or run.wf ~= wf or #run.ids >= EVENT_RUN) then
    flush_run()
    run = nil
  end
  if not run then
    run = {st = status, ty = jtype, wf = wf, ids = {}}
    RUNS.run = run
  end
  run.ids[#run.ids + 1] = id
end

-- A call that handles many jobs (a bulk submit, a batch of outcomes) gathers the writes its
-- jobs share and sends each as one command at its end: runs of like events (emit), the stats
-- counts and the completed jobs' entries (batch_flush), and with `jobs` (a submit:
-- create_job's batch_flush_jobs) the index entries and the ungrouped jobs' ready pushes; a
-- type's stats label is looked up once. Nothing reads what waits here before the flush. Fewer
-- commands is most of a script's server time per job.
local function batch_begin(jobs)
  BATCH = {stats = {}, fields = {}, labels = {}, completed = {}}
  runs_begin()
  if jobs then
    BATCH.index = {}
    BATCH.ready = {{}, {}, {}}
  end
end

-- cmd key items[1..] in commands of at most `width` items (Lua's unpack has a stack limit).
local function rcall_slices(cmd, k, items, width)
  for i = 1, #items, width do
    local j = i + width - 1
    if j > #items then j = #items end
    rcall(cmd, k, unpack(items, i, j))
  end
end

-- ZADD k score member now, or, in a batching call, added to `gathered` (a list of the call's
-- BATCH) for its flush.
local function zadd_or_gather(gathered, k, score, member)
  if gathered then
    gathered[#gathered + 1] = score
    gathered[#gathered + 1] = member
  else
    rcall('ZADD', k, score, member)
  end
end

-- Count one event in the stats hash: "<kind>|<type label>[|<label>]".
local function stat(kind, tlabel, label)
  local field = kind .. '|' .. tlabel
  if label then field = field .. '|' .. label end
  if BATCH then
    local n = BATCH.stats[field]
    if not n then BATCH.fields[#BATCH.fields + 1] = field end
    BATCH.stats[field] = (n or 0) + 1
    return
  end
  rcall('HINCRBY', key.stats, field, 1)
end

-- The gathered events, stats counts and completed entries, sent; the call is no longer
-- batching.
local function batch_flush()
  if not BATCH then return end
  runs_end()
  rcall_slices('ZADD', key.completed, BATCH.completed, 1000)
  for _, field in ipairs(BATCH.fields) do
    rcall('HINCRBY', key.stats, field, BATCH.stats[field])
  end
  BATCH = nil
end

-- The stats label of a new job's type: its name while fewer than config.types_max types have one,
-- 'other' after that, so the stats hash and the metric series stay bounded.
local function type_label(jtype)
  local known = BATCH and BATCH.labels[jtype]
  if known then return known end
  local label = 'other'
  if rcall('SISMEMBER', key.types, jtype) == 1 then
    label = jtype
  elseif rcall('SCARD', key.types) < config.types_max then
    rcall('SADD', key.types, jtype)
    label = jtype
  end
  if BATCH then BATCH.labels[jtype] = label end
  return label
end

local function wake_if_needed()
  if WAKE then rcall('ZADD', key.marker, 0, 'w') end
end

-- The fields every transition needs, or nil when the job hash is gone.
local function job_meta(jkey)
  local f = rcall('HMGET', jkey, 'status', 'type', 'priority', 'wf', 'step', 'attempts',
    'max_attempts', 'cancel', 'free', 'solo', 'tl', 'group')
  if not f[1] then return nil end
  return {status = f[1], type = f[2], priority = f[3], wf = f[4] or false, step = f[5] or false,
    attempts = tonumber(f[6]), max_attempts = tonumber(f[7]), cancel = f[8] == '1',
    free = tonumber(f[9] or 0), solo = f[10] == '1', tl = f[11] or f[2], group = f[12] or ''}
end

-- True when the attempt that just ended was the job's last charged one.
local function out_of_attempts(job)
  return job.attempts - job.free >= job.max_attempts
end
