import { script } from "./lib.js";

/** Adds a signing key (optionally only when none of its algorithm exists). KEYS: keys. ARGV[5..]: kid, json, alg. */
export const ADD_KEY = script(`
if redis.call('HEXISTS', KEYS[1], ARGV[5]) == 1 then return 0 end
if ARGV[7] ~= '' then
  for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
    if cjson.decode(v).alg == ARGV[7] then return 0 end
  end
end
redis.call('HSET', KEYS[1], ARGV[5], ARGV[6])
return 1
`);

/**
 * Claims a username for a user id, unless another user holds it (a holder named in ARGV[7] is taken
 * over: its record is known to be gone). KEYS: names. ARGV[5..]: lower-cased name, user id, stale holder.
 * Returns '' when claimed, else the holder's id.
 */
export const CLAIM_NAME = script(`
local cur = redis.call('HGET', KEYS[1], ARGV[5])
if cur and cur ~= ARGV[6] and cur ~= ARGV[7] then return cur end
redis.call('HSET', KEYS[1], ARGV[5], ARGV[6])
return ''
`);

/** Releases a username if it belongs to the user. KEYS: names. ARGV[5..]: name, user id. */
export const RELEASE_NAME = script(`
if redis.call('HGET', KEYS[1], ARGV[5]) == ARGV[6] then redis.call('HDEL', KEYS[1], ARGV[5]) end
return 1
`);

/**
 * Writes a user record (and its disabled flag when given). KEYS: user, dis.
 * ARGV[5..]: id, username, passwordHash, createdAt, disabledAt or ''. Returns 1 when the record is new.
 */
export const PUT_USER = script(`
local fresh = redis.call('EXISTS', KEYS[1]) == 0
redis.call('HSET', KEYS[1], 'id', ARGV[5], 'un', ARGV[6], 'ph', ARGV[7], 'ca', ARGV[8])
if ARGV[9] ~= '' and redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2], ARGV[9]) end
if fresh then return 1 end
return 0
`);

/** A user record and its disabled flag: {id, un, ph, ca, dis}. KEYS: user, dis. */
export const GET_USER = script(`
local r = redis.call('HMGET', KEYS[1], 'id', 'un', 'ph', 'ca')
r[5] = redis.call('GET', KEYS[2])
return r
`);

/** Replaces a password hash if the user exists. KEYS: user. ARGV[5]: hash. */
export const SET_PASSWORD = script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'ph', ARGV[5])
return 1
`);

/** One hit in a fixed window starting at the first hit: {count, resetAt}. KEYS: counter. ARGV[5..]: windowMs, now. */
export const RATE_HIT = script(`
local now, window = tonumber(ARGV[6]), tonumber(ARGV[5])
local r = redis.call('HMGET', KEYS[1], 'c', 'r')
if r[2] and tonumber(r[2]) > now then
  return {redis.call('HINCRBY', KEYS[1], 'c', 1), r[2]}
end
local reset = fmt(now + window)
redis.call('HSET', KEYS[1], 'c', 1, 'r', reset)
redis.call('PEXPIRE', KEYS[1], fmt(window + MARGIN))
return {1, reset}
`);

/** Stores a checkpoint unless the stored one is as new or newer. KEYS: checkpoint. ARGV[5..]: takenAt, bytes. */
export const WRITE_CHECKPOINT = script(`
local at = redis.call('HGET', KEYS[1], 't')
if at and tonumber(at) >= tonumber(ARGV[5]) then return 0 end
redis.call('HSET', KEYS[1], 't', ARGV[5], 'd', ARGV[6])
return 1
`);
