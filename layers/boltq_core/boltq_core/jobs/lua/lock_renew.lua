--[[
  lock_renew: extend a lock only if the caller still holds it.

  Input:  KEYS[1] the lock key (STRING)   ARGV[1] the holder's token   ARGV[2] lease ms
  Output: 1 renewed, 0 not the holder.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
