import { script } from "./lib.js";

/**
 * Refresh-token rotation and reuse detection, atomic on the session's user slot: the Lua copy of
 * `planRotation` (src/core/refresh.ts), decided on the stored state, the global and user cutoffs
 * included, and written in the same step. `test/integration/redis-rotation.test.ts` holds the two
 * to each other. The caller plans the same redemption with `planRotation` on the state the script
 * returns (`before`) and answers with the plan's result.
 * - `rotate`: next generation, last use now, idle end pushed out, the new token at that generation;
 * - `grace`: the new token joins the current generation, nothing else changes;
 * - `reuse`: the session is revoked and (inline) its feed entry written; `dry` mode only reports it;
 * - `revoked`, `expired`, `idle_expired`: nothing is written.
 * KEYS: session, user cutoff [, rt lookup of the new token (inline)].
 * ARGV[5..]: presentedHash, newHash, now, graceMs, idleTtlMs, cutoff, reason, actor, at, ttl, rtValue.
 * Returns {'unknown'} or {decision, record after, record before, token generation, global cutoff,
 * user cutoff or '', spared session or ''}.
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
local before = record(sk)
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
if d == 'rotate' then
  local ng = fmt(g + 1)
  local nie = now + idle
  if ex < nie then nie = ex end
  redis.call('HSET', sk, 'g', ng, 'ra', ARGV[7], 'lu', ARGV[7], 'ie', fmt(nie), 't:' .. ARGV[6], ng)
elseif d == 'grace' then
  redis.call('HSET', sk, 't:' .. ARGV[6], fmt(g))
elseif d == 'reuse' and MODE ~= 'dry' then
  revoke(sk, ARGV[13], ARGV[11], ARGV[12], ARGV[14])
  if MODE == 'inline' then publish(sk) end
end
if (d == 'rotate' or d == 'grace') and MODE == 'inline' then
  redis.call('SET', KEYS[3], ARGV[15], 'PX', fmt(math.max(ex - now, 0) + MARGIN))
end
return {d, record(sk), before, fmt(tg), fmt(cutoff), uc[1] or '', uc[2] or ''}
`);
