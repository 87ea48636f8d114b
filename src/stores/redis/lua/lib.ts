/**
 * The shared library of the Redis store's Lua scripts (the scripts themselves are in the files beside
 * this one, by job). Every multi-step decision runs inside one script, so it is atomic on the Redis
 * server that owns the keys; where the decision is one of the core's rules (rotation, user cutoff),
 * the script is its Lua copy, held to it by a differential test, and the caller re-plans it in
 * TypeScript on the state the script returns.
 *
 * Key layout (built in TypeScript by ../layout.ts; `P` is the configured prefix; ids inside key
 * names are percent-encoded, so they can never contain `{`, `}` or `:`):
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

/** A script: the shared library, then the body. */
export function script(body: string): string {
  return `${LIB}\n${body}`;
}
