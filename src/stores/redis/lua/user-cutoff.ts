import { script } from "./lib.js";

/**
 * The user grain as one constant-size write, atomic on the user's slot: the Lua copy of
 * `planUserCutoff` (src/core/user-cutoff.ts). Records the user's cutoff (the later cutoff wins; the
 * spared session must exist, be the user's, and have been spared by the previous cutoff), kept until
 * the later of `at + ttl` and the recorded expiry (it never shortens), optionally the disabled flag,
 * and (inline) the user feed entry. No loop. The cutoff is at least the newest session's
 * authentication time (the index is scored by it): every session already written is covered, even
 * one stamped by a node whose clock runs ahead. `test/integration/redis-user-cutoff.test.ts` holds the
 * script to the plan; the caller plans the same cutoff on the state the script returns.
 * KEYS: dis, cut, spared session (or any key of the slot), idx. ARGV[5..]: disable (1|0), at, reason,
 * actor, ttl, userId, spared sid or ''.
 * Returns {cutoff, spared or '', expiresAt, previous cutoff or '', previous spared or '', previous
 * expiry or '', newest authentication time or '', spared session's authentication time or '', its user or ''}.
 */
export const CUT_USER = script(`
local at, ttl, uid, want = tonumber(ARGV[6]), tonumber(ARGV[9]), ARGV[10], ARGV[11]
if ARGV[5] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[6]) end
local prev = redis.call('HMGET', KEYS[2], 'c', 'p', 'e')
local newest = redis.call('ZREVRANGE', KEYS[4], 0, 0, 'WITHSCORES')
local kept = {false, false, false}
if want ~= '' then kept = redis.call('HMGET', KEYS[3], 'ca', 'uid', 'id') end
local c, p = at, want
if #newest == 2 and tonumber(newest[2]) > c then c = tonumber(newest[2]) end
if prev[1] and c < tonumber(prev[1]) then
  c, p = tonumber(prev[1]), prev[2] or ''
elseif p ~= '' then
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
local newestAt = ''
if #newest == 2 then newestAt = newest[2] end
local keptCa, keptUid = '', ''
if kept[1] and kept[3] == want then keptCa, keptUid = kept[1], kept[2] or '' end
return {fmt(c), p, fmt(e), prev[1] or '', prev[2] or '', prev[3] or '', newestAt, keptCa, keptUid}
`);
