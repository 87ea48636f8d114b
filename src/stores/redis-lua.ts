/**
 * The Lua scripts of the Redis store. Every multi-step decision runs inside one script, so it is atomic
 * on the Redis server that owns the keys.
 *
 * Key layout (`P` is the configured prefix; ids inside key names are percent-encoded, so they can
 * never contain `{`, `}` or `:`):
 * - `P{g}:*`, one hash slot: the feed stream `feed`, the active-revocation index `active` (a sorted
 *   set scored by expiry), one record per active entry `r:<member>` (with a TTL equal to the remaining
 *   life of what it covers; a user's newest cutoff is one such record, `u:<user>`), the global
 *   `cutoff`, the first-start marker `epoch`, the trim mark `trimmed`, the longest token lifetimes
 *   ever used `lifetimes` and, on Redis Cluster, the `pending` publication intents.
 * - `P{u:<user>}:*`, one slot per user: the sessions `s:<sid>` (hashes holding the record and every
 *   refresh-token hash of the session, expiring with the session), the session index `idx`, the
 *   disabled flag `dis`, the user's cutoff `cut` (a hash: `c` cutoff, `p` spared session, `e` until
 *   when it must be kept), the user record `user`.
 * - `Psid:<sid>` and `Prt:<hash>`: immutable lookups from a session id or a refresh-token hash to its
 *   user's slot, expiring with the session.
 *
 * Common ARGV of every script that can append to the feed: `[1]` mode, `[2]` the `P{g}:` prefix,
 * `[3]` feed retention ms, `[4]` TTL margin ms. Modes: `inline` (standalone Redis: the script writes
 * the feed entry itself, so revocation and feed entry are one atomic step), `deferred` (Redis Cluster:
 * the feed lives in another slot; the script marks the session unpublished and returns the entry for
 * the caller to publish), `dry` (rotation on Cluster: report a reuse without acting on it yet).
 */

/** Session hash fields, in the order `record()` returns them. */
export const SESSION_FIELDS = [
  "id",
  "uid",
  "cid",
  "ca",
  "lu",
  "ex",
  "ie",
  "ua",
  "ip",
  "cl",
  "sc",
  "g",
  "ra",
  "rv",
  "rr",
  "n",
] as const;

const LIB = `
local MODE, G = ARGV[1], ARGV[2]
local RETENTION, MARGIN = tonumber(ARGV[3]), tonumber(ARGV[4])
local FIELDS = {${SESSION_FIELDS.map((f) => `'${f}'`).join(", ")}}

local function fmt(n) return string.format('%.0f', n) end

local function enc(s)
  return (string.gsub(s, '[^%w%-%._~]', function(c) return string.format('%%%02X', string.byte(c)) end))
end

local function idparts(id)
  local ms, sq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(sq)
end

local function idlt(a, b)
  local am, as = idparts(a)
  local bm, bs = idparts(b)
  return am < bm or (am == bm and as < bs)
end

local function srvnow()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function record(sk) return redis.call('HMGET', sk, unpack(FIELDS)) end

-- Drops feed entries older than the retention (by the stream's own clock) and remembers the last id
-- dropped, so that a reader whose cursor is older knows it must resynchronise.
local function trim(lastId)
  local ms = idparts(lastId)
  local minms = ms - RETENTION
  if minms <= 0 then return 0 end
  local minid = fmt(minms) .. '-0'
  -- Nothing to trim unless the oldest entry is older than minid (O(1)); the reverse range below
  -- walks the whole stream when it finds nothing, which made every append O(feed length).
  local first = redis.call('XRANGE', G .. 'feed', '-', '+', 'COUNT', 1)
  if #first == 0 or not idlt(first[1][1], minid) then return 0 end
  local old = redis.call('XREVRANGE', G .. 'feed', '(' .. minid, '-', 'COUNT', 1)
  if #old == 0 then return 0 end
  local n = redis.call('XTRIM', G .. 'feed', 'MINID', minid)
  local prev = redis.call('GET', G .. 'trimmed')
  if not prev or idlt(prev, old[1][1]) then redis.call('SET', G .. 'trimmed', old[1][1]) end
  return n
end

-- Forgets up to limit index entries that expired at or before now.
local function prune(now, limit)
  local old = redis.call('ZRANGEBYSCORE', G .. 'active', '-inf', fmt(now), 'LIMIT', 0, limit)
  for _, m in ipairs(old) do
    redis.call('ZREM', G .. 'active', m)
    redis.call('DEL', G .. 'r:' .. enc(m))
  end
  return #old
end

-- Appends one entry to the feed; jti, session and user entries also enter the active index (a user's
-- newest cutoff replaces its previous one there). Returns the id.
local function append(kind, subject, cutoff, exp, reason, actor, at, spared)
  local f = {'k', kind, 's', subject, 'x', exp, 'r', reason, 'a', actor, 't', at}
  if cutoff ~= '' then
    f[#f + 1] = 'c'
    f[#f + 1] = cutoff
  end
  if spared and spared ~= '' then
    f[#f + 1] = 'p'
    f[#f + 1] = spared
  end
  local id = redis.call('XADD', G .. 'feed', '*', unpack(f))
  if kind == 'jti' or kind == 'session' or kind == 'user' then
    local m = string.sub(kind, 1, 1) .. ':' .. subject
    local rk = G .. 'r:' .. enc(m)
    redis.call('ZADD', G .. 'active', exp, m)
    redis.call('DEL', rk)
    redis.call('HSET', rk, 'q', id, unpack(f))
    local life = tonumber(exp) - tonumber(at)
    if life < 0 then life = 0 end
    redis.call('PEXPIRE', rk, fmt(life + MARGIN))
  end
  prune(math.min(tonumber(at), srvnow()), 64)
  trim(id)
  return id
end

-- Marks a session revoked (unpublished until its feed entry is written). False when unknown or
-- already revoked. The record is kept at least as long as the session's access tokens can live.
local function revoke(sk, at, reason, actor, ttl)
  if redis.call('EXISTS', sk) == 0 or redis.call('HEXISTS', sk, 'rv') == 1 then return false end
  redis.call('HSET', sk, 'rv', at, 'rr', reason, 'rx', actor, 'rt', ttl, 'pb', '0')
  local keep = tonumber(ttl) + MARGIN
  if redis.call('PTTL', sk) < keep then redis.call('PEXPIRE', sk, fmt(keep)) end
  return true
end

-- The feed entry of a revoked session: {sid, expiresAt, reason, actor, at}.
local function revoked_entry(sk)
  local f = redis.call('HMGET', sk, 'id', 'rv', 'rr', 'rx', 'rt')
  return {f[1], fmt(tonumber(f[2]) + tonumber(f[5])), f[3], f[4], f[2]}
end

-- Writes the feed entry of a revoked session and marks it published (inline mode).
local function publish(sk)
  local e = revoked_entry(sk)
  append('session', e[1], '', e[2], e[3], e[4], e[5])
  redis.call('HSET', sk, 'pb', '1')
end
`;

function script(body: string): string {
  return `${LIB}\n${body}`;
}

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
 * Refresh-token rotation and reuse detection: decideRotation of the core (src/core/refresh.ts), on the
 * stored state, the user's cutoff included. A grace redemption adds the new token to the current
 * generation and changes nothing else.
 * KEYS: session, user cutoff [, rt lookup of the new token (inline)].
 * ARGV[5..]: presentedHash, newHash, now, graceMs, idleTtlMs, cutoff, reason, actor, at, ttl, rtValue.
 */
export const ROTATE = script(`
local sk = KEYS[1]
local tg = redis.call('HGET', sk, 't:' .. ARGV[5])
if not tg then return {'unknown'} end
tg = tonumber(tg)
local now, grace, idle = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local cutoff = tonumber(ARGV[10])
if MODE == 'inline' then
  local c = redis.call('GET', G .. 'cutoff')
  if c and tonumber(c) > cutoff then cutoff = tonumber(c) end
end
local f = redis.call('HMGET', sk, 'ca', 'ex', 'ie', 'g', 'ra', 'rv', 'id')
local ca, ex, ie, g = tonumber(f[1]), tonumber(f[2]), tonumber(f[3]), tonumber(f[4])
local uc = redis.call('HMGET', KEYS[2], 'c', 'p')
local d
if f[6] or (cutoff > 0 and ca < cutoff) or (uc[1] and ca <= tonumber(uc[1]) and f[7] ~= uc[2]) then d = 'revoked'
elseif now >= ex then d = 'expired'
elseif now >= ie then d = 'idle_expired'
elseif tg == g then d = 'rotate'
elseif tg == g - 1 and f[5] and now - tonumber(f[5]) < grace then d = 'grace'
else d = 'reuse' end
if d == 'rotate' or d == 'grace' then
  if d == 'rotate' then
    local ng = fmt(g + 1)
    local nie = now + idle
    if ex < nie then nie = ex end
    redis.call('HSET', sk, 'g', ng, 'ra', ARGV[7], 'lu', ARGV[7], 'ie', fmt(nie), 't:' .. ARGV[6], ng)
  else
    redis.call('HSET', sk, 't:' .. ARGV[6], fmt(g))
  end
  if MODE == 'inline' then redis.call('SET', KEYS[3], ARGV[15], 'PX', fmt(math.max(ex - now, 0) + MARGIN)) end
  return {d, record(sk)}
end
if d == 'reuse' then
  if MODE == 'dry' then return {'reuse'} end
  revoke(sk, ARGV[13], ARGV[11], ARGV[12], ARGV[14])
  if MODE == 'inline' then
    publish(sk)
    return {'reused', record(sk)}
  end
  return {'reused', record(sk), revoked_entry(sk)}
end
return {d, record(sk)}
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
 * The user grain as one constant-size write: records the user's cutoff (mergeUserCutoff of the core:
 * the later cutoff wins; the spared session must exist, be the user's, and have been spared by the
 * previous cutoff), optionally the disabled flag, and (inline) the user feed entry. No loop.
 * The cutoff is at least the newest session's creation time (the index is scored by it): every
 * session already written is covered, even one stamped by a node whose clock runs ahead.
 * KEYS: dis, cut, spared session (or any key of the slot), idx. ARGV[5..]: disable (1|0), at, reason,
 * actor, ttl, userId, spared sid or ''.
 * Returns {cutoff, spared or '', expiresAt}.
 */
export const CUT_USER = script(`
local at, ttl, uid, want = tonumber(ARGV[6]), tonumber(ARGV[9]), ARGV[10], ARGV[11]
if ARGV[5] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[6]) end
local prev = redis.call('HMGET', KEYS[2], 'c', 'p', 'e')
local newest = redis.call('ZREVRANGE', KEYS[4], 0, 0, 'WITHSCORES')
local c, p = at, want
if #newest == 2 and tonumber(newest[2]) > c then c = tonumber(newest[2]) end
if prev[1] and c < tonumber(prev[1]) then
  c, p = tonumber(prev[1]), prev[2] or ''
elseif p ~= '' then
  local kept = redis.call('HMGET', KEYS[3], 'ca', 'uid', 'id')
  if not kept[1] or kept[2] ~= uid or kept[3] ~= p then p = ''
  elseif prev[1] and tonumber(kept[1]) <= tonumber(prev[1]) and p ~= (prev[2] or '') then p = '' end
end
local e = at + ttl
if prev[3] and tonumber(prev[3]) > e then e = tonumber(prev[3]) end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'c', fmt(c), 'e', fmt(e))
if p ~= '' then redis.call('HSET', KEYS[2], 'p', p) end
redis.call('PEXPIRE', KEYS[2], fmt(math.max(e - at, 0) + MARGIN))
if MODE == 'inline' then append('user', uid, fmt(c), fmt(e), ARGV[7], ARGV[8], ARGV[6], p) end
return {fmt(c), p, fmt(e)}
`);

/**
 * Publishes session entries (and optionally a user cutoff) prepared by a deferred revocation. A session
 * already in the active index is not appended twice. KEYS: feed.
 * ARGV[5..]: n, n x (sid, expiresAt, reason, actor, at) [, userId, expiresAt, reason, actor, at, cutoff, spared].
 */
export const PUBLISH = script(`
local n = tonumber(ARGV[5])
local i = 6
for _ = 1, n do
  if not redis.call('ZSCORE', G .. 'active', 's:' .. ARGV[i]) then
    append('session', ARGV[i], '', ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4])
  end
  i = i + 5
end
if ARGV[i] then
  append('user', ARGV[i], ARGV[i + 5], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 6])
end
return n
`);

/** Marks published sessions. KEYS: idx (routing). ARGV[5..]: userPrefix, encSid... */
export const MARK = script(`
for i = 6, #ARGV do
  local sk = ARGV[5] .. 's:' .. ARGV[i]
  if redis.call('HGET', sk, 'pb') == '0' then redis.call('HSET', sk, 'pb', '1') end
end
return #ARGV - 5
`);

/**
 * Records a jti (keeping the later expiry) or moves the global cutoff forward. KEYS: feed.
 * ARGV[5..]: kind, subject, cutoff, expiresAt, reason, actor, at. Returns the seq, or nil.
 */
export const ADD_REVOCATION = script(`
local kind, subject, cutoff, exp = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
if kind == 'global' then
  local cur = tonumber(redis.call('GET', G .. 'cutoff') or '0')
  if tonumber(cutoff) <= cur then return false end
  redis.call('SET', G .. 'cutoff', cutoff)
else
  local s = redis.call('ZSCORE', G .. 'active', 'j:' .. subject)
  if s and tonumber(s) >= tonumber(exp) then return false end
end
return append(kind, subject, cutoff, exp, ARGV[9], ARGV[10], ARGV[11])
`);

const EPOCH = `
local epoch = redis.call('GET', G .. 'epoch')
if not epoch then
  redis.call('SET', G .. 'epoch', ARGV[5])
  epoch = ARGV[5]
end
`;

/**
 * The non-blocking part of a feed read. KEYS: epoch. ARGV[5..]: epoch candidate, cursor, limit.
 * Returns {epoch, 'ok', entries} or {epoch, 'resync'} when entries after the cursor were trimmed.
 */
export const POLL = script(`${EPOCH}
local trimmed = redis.call('GET', G .. 'trimmed')
if trimmed and idlt(ARGV[6], trimmed) then return {epoch, 'resync'} end
return {epoch, 'ok', redis.call('XRANGE', G .. 'feed', '(' .. ARGV[6], '+', 'COUNT', ARGV[7])}
`);

/** The head of a snapshot: {epoch, cutoff, cursor}. KEYS: epoch. ARGV[5]: epoch candidate. */
export const SNAPSHOT_HEAD = script(`${EPOCH}
local last = redis.call('XREVRANGE', G .. 'feed', '+', '-', 'COUNT', 1)
local cursor = '0-0'
if #last > 0 then cursor = last[1][1] end
local trimmed = redis.call('GET', G .. 'trimmed')
if trimmed and idlt(cursor, trimmed) then cursor = trimmed end
return {epoch, redis.call('GET', G .. 'cutoff') or '0', cursor}
`);

/**
 * One page of the active index: {next scan cursor, records...}. KEYS: active.
 * ARGV[5..]: scan cursor, count, now.
 */
export const SNAPSHOT_PAGE = script(`
local r = redis.call('ZSCAN', KEYS[1], ARGV[5], 'COUNT', ARGV[6])
local now = tonumber(ARGV[7])
local out = {r[1]}
local items = r[2]
for i = 1, #items, 2 do
  if tonumber(items[i + 1]) > now then
    local rec = redis.call('HGETALL', G .. 'r:' .. enc(items[i]))
    if #rec > 0 then out[#out + 1] = rec end
  end
end
return out
`);

/** Point lookup: {jti active, session active, global cutoff}. KEYS: active. ARGV[5..]: jti member, session member, now. */
export const CHECK = script(`
local now = tonumber(ARGV[7])
local function active(m)
  if m == '' then return 0 end
  local s = redis.call('ZSCORE', KEYS[1], m)
  if s and tonumber(s) > now then return 1 end
  return 0
end
return {active(ARGV[5]), active(ARGV[6]), redis.call('GET', G .. 'cutoff') or '0'}
`);

/** Purges up to a batch of expired index entries and trims the feed. KEYS: active. ARGV[5..]: now, batch. */
export const PURGE_ACTIVE = script(`
local n = prune(tonumber(ARGV[5]), tonumber(ARGV[6]))
local last = redis.call('XREVRANGE', G .. 'feed', '+', '-', 'COUNT', 1)
if #last > 0 then trim(last[1][1]) end
return n
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

/**
 * Raises the recorded longest token lifetimes and returns them: {access, session}. KEYS: lifetimes.
 * ARGV[5..]: access ms, session ms (0 to only read).
 */
export const LIFETIMES = script(`
local r = redis.call('HMGET', KEYS[1], 'a', 's')
local a, s = tonumber(r[1] or '0'), tonumber(r[2] or '0')
if tonumber(ARGV[5]) > a then a = tonumber(ARGV[5]); redis.call('HSET', KEYS[1], 'a', fmt(a)) end
if tonumber(ARGV[6]) > s then s = tonumber(ARGV[6]); redis.call('HSET', KEYS[1], 's', fmt(s)) end
return {fmt(a), fmt(s)}
`);

/** Records a publication intent (Cluster). KEYS: pending. ARGV[5]: member. */
export const INTENT_ADD = script(`
redis.call('ZADD', KEYS[1], fmt(srvnow()), ARGV[5])
return 1
`);

/** Intents older than ARGV[5] ms by the server's clock, at most ARGV[6]. KEYS: pending. */
export const INTENT_LIST = script(`
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', fmt(srvnow() - tonumber(ARGV[5])), 'LIMIT', 0, ARGV[6])
`);

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
