import { script } from "./lib.js";

/**
 * Creates a session atomically with the user's disabled flag and cutoff (a session authenticated
 * before the cutoff is refused).
 * KEYS: session, idx, dis, seq, cut [, sid lookup, rt lookup, expiry index (inline)].
 * ARGV[5..]: encSid, createdAt, ttl, refreshHash, generation, uid, rtValue, expMember, expiresAt, pairs...
 */
export const CREATE_SESSION = script(`
local cut = redis.call('HGET', KEYS[5], 'c')
if cut and tonumber(ARGV[6]) <= tonumber(cut) then return 'cut_off' end
if redis.call('EXISTS', KEYS[3]) == 1 then return 'user_disabled' end
local ttl = ARGV[7]
local n = redis.call('INCR', KEYS[4])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'n', n, 't:' .. ARGV[8], ARGV[9], unpack(ARGV, 14))
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[5])
for _, k in ipairs({KEYS[2], KEYS[4]}) do
  if redis.call('PTTL', k) < tonumber(ttl) then redis.call('PEXPIRE', k, ttl) end
end
if MODE == 'inline' then
  redis.call('SET', KEYS[6], ARGV[10], 'PX', ttl)
  redis.call('SET', KEYS[7], ARGV[11], 'PX', ttl)
  redis.call('ZADD', KEYS[8], ARGV[13], ARGV[12])
end
return 'created'
`);

/**
 * Revokes one session (`one`) or only checks it (`check`); in both cases also (re)publishes it if it
 * is revoked but not yet published. Never a loop over sessions (the user grain is {@link CUT_USER}).
 * KEYS: idx, dis. ARGV[5..]: target (one|check), encSid, disable (1|0), at, reason, actor, ttl,
 * userId, userPrefix, unused.
 * Returns {newly revoked ids, entries to publish (deferred mode)}.
 */
export const REVOKE = script(`
local target, at, reason, actor, ttl = ARGV[5], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local U = ARGV[13]
local changed, pending = {}, {}
local function visit(sk, act)
  if act and revoke(sk, at, reason, actor, ttl) then changed[#changed + 1] = redis.call('HGET', sk, 'id') end
  if redis.call('HGET', sk, 'pb') == '0' then
    if MODE == 'inline' then publish(sk) else pending[#pending + 1] = revoked_entry(sk) end
  end
end
if ARGV[7] == '1' and redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2], at) end
local sk = U .. 's:' .. ARGV[6]
if redis.call('EXISTS', sk) == 1 then visit(sk, target == 'one') end
return {changed, pending}
`);

/**
 * Drops a session that ended, unless its revocation still covers live access tokens.
 * KEYS: session, idx. ARGV[5..]: now, encSid. Returns {'gone'}, {'keep', until} or {'dropped', hashes}.
 */
export const DROP_SESSION = script(`
local sk = KEYS[1]
if redis.call('EXISTS', sk) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[6])
  return {'gone'}
end
local f = redis.call('HMGET', sk, 'ex', 'rv', 'rt')
local keep = tonumber(f[1])
if f[2] and tonumber(f[2]) + tonumber(f[3]) > keep then keep = tonumber(f[2]) + tonumber(f[3]) end
if keep > tonumber(ARGV[5]) then return {'keep', fmt(keep)} end
local hashes = {}
for _, k in ipairs(redis.call('HKEYS', sk)) do
  if string.sub(k, 1, 2) == 't:' then hashes[#hashes + 1] = string.sub(k, 3) end
end
redis.call('DEL', sk)
redis.call('ZREM', KEYS[2], ARGV[6])
return {'dropped', hashes}
`);

/** A session record and the generation of one of its refresh tokens. KEYS: session. ARGV[5]: hash. */
export const FIND_TOKEN = script(`
return {record(KEYS[1]), redis.call('HGET', KEYS[1], 't:' .. ARGV[5]) or ''}
`);

/**
 * The session records of a user not ended by the user's cutoff (dropping index entries of vanished
 * ones); the caller applies the full liveness rule. KEYS: idx, cut. ARGV[5]: userPrefix.
 */
export const LIST_SESSIONS = script(`
local out = {}
local cut = redis.call('HMGET', KEYS[2], 'c', 'p')
local min = '-inf'
if cut[1] then min = '(' .. cut[1] end
local function add(e)
  local sk = ARGV[5] .. 's:' .. e
  if redis.call('EXISTS', sk) == 0 then redis.call('ZREM', KEYS[1], e) else out[#out + 1] = record(sk) end
end
-- Only sessions authenticated after the user's cutoff (the index is scored by that time), and the
-- one it spares: a user logged out of 100,000 sessions lists in the time of the live ones.
for _, e in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], min, '+inf')) do add(e) end
if cut[1] and cut[2] then
  local e = enc(cut[2])
  local s = redis.call('ZSCORE', KEYS[1], e)
  if s and tonumber(s) <= tonumber(cut[1]) then add(e) end
end
return out
`);

/**
 * The records of a user's sessions authenticated at or before a cutoff (the index is scored by that
 * time); a read: vanished ones come back empty and stay indexed. KEYS: idx. ARGV[5]: userPrefix,
 * ARGV[6]: cutoff ms.
 */
export const LIST_SESSIONS_UP_TO = script(`
local out = {}
for _, e in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[6])) do
  out[#out + 1] = record(ARGV[5] .. 's:' .. e)
end
return out
`);
