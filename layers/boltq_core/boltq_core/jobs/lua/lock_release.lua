--[[
  lock_release: delete a lock only if the caller still holds it.

  Input:  KEYS[1] the lock key (STRING)   ARGV[1] the holder's token
  Output: 1 released, 0 not the holder.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
