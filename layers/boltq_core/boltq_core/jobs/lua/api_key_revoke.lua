--[[
  api_key_revoke: forget an API key (its name and its record), if the name still names it.

  Input:
    KEYS[1]  {p}:apikeys          (HASH)  key name -> key id
    KEYS[2]  {p}:apikey:<key id>  (HASH)  the key's record
    ARGV[1]  name   ARGV[2] key id (as read from KEYS[1] before the call)
  Output: 1 revoked; 0 no key of that name and id (nothing changed).
]]
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
