--[[
  api_key_create: record a new API key under a name not yet taken (the key itself is never
  stored: only its sha256).

  Input:
    KEYS[1]  {p}:apikeys          (HASH)  key name -> key id
    KEYS[2]  {p}:apikey:<key id>  (HASH)  name, scope, sha256, created
    ARGV[1]  name   ARGV[2] key id   ARGV[3] sha256 (hex) of the key   ARGV[4] scope
    ARGV[5]  created (ms)
  Output: 1 created; 0 the name is taken (nothing changed).
]]
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], 'name', ARGV[1], 'scope', ARGV[4], 'sha256', ARGV[3],
           'created', ARGV[5])
return 1
