--[[
  schedule_delete: remove a schedule and its history (the jobs it made stay).

  Input:
    KEYS[1]  sched:<name> (HASH)   KEYS[2] sched_recent:<name> (LIST)
    KEYS[3]  schedules (ZSET)      KEYS[4] schedules:due (ZSET)
    ARGV[1]  name
  Output: 1 when it existed, else 0.
]]
local found = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return found
