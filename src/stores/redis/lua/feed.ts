import { script } from "./lib.js";

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
