/**
 * The user grain on Redis: the user-cutoff script (lua/user-cutoff.ts) records the cutoff atomically
 * on the user's slot, one constant-size write whatever the number of sessions; this side plans the
 * same cutoff with the core's `planUserCutoff` on the state the script decided on, answers with the
 * plan's cutoff and, on Cluster, publishes the plan's feed entry.
 */
import { StoreUnavailableError } from "../../core/errors.js";
import type { RevocationMeta, UserCutoff } from "../../core/model.js";
import { planUserCutoff, type UserCutoffPlan } from "../../core/user-cutoff.js";
import type { Arg } from "./connection.js";
import type { RedisContext } from "./context.js";
import { encodeKeyPart as enc } from "./layout.js";
import { CUT_USER } from "./lua/user-cutoff.js";
import { userPending } from "./publication.js";
import { cutReply, type Pending } from "./records.js";

/** The core's plan for the cutoff the script recorded, on the state it decided on. */
export function executedCutoffPlan(
  reply: unknown,
  userId: string,
  meta: RevocationMeta,
  exceptSessionId: string | null,
): UserCutoffPlan {
  const r = cutReply(reply);
  const plan = planUserCutoff(userId, meta, r.prev, r.newestCreatedAt, r.kept, exceptSessionId);
  if (
    plan.cutoff.cutoff !== r.recorded.cutoff ||
    plan.cutoff.exceptSessionId !== r.recorded.exceptSessionId ||
    plan.expiresAt !== r.recorded.expiresAt
  ) {
    throw new StoreUnavailableError("the redis user-cutoff script and the core's plan disagree");
  }
  return plan;
}

/**
 * Standalone: the feed entry is written by the same script. Cluster: under a publication intent, the
 * cutoff is written, then its feed entry (the intent makes another node publish it if this one dies).
 */
export async function cutOffUser(
  { conn, keys, publication }: RedisContext,
  userId: string,
  meta: RevocationMeta,
  options?: { exceptSessionId?: string; disable?: boolean },
): Promise<UserCutoff> {
  const U = keys.user(userId);
  const except = options?.exceptSessionId ?? "";
  const slot = [`${U}dis`, `${U}cut`, except === "" ? `${U}cut` : `${U}s:${enc(except)}`, `${U}idx`];
  const args: Arg[] = [
    options?.disable ? "1" : "0",
    meta.at,
    meta.reason,
    meta.actor,
    meta.ttl,
    userId,
    except,
  ];
  const spared = except === "" ? null : except;
  if (!conn.cluster)
    return executedCutoffPlan(await conn.run(CUT_USER, slot, args), userId, meta, spared).cutoff;
  const marker: Pending = [userId, "", meta.reason, meta.actor, String(meta.at)];
  return publication.withIntent(userId, marker, null, async () => {
    const reply = await conn.run(CUT_USER, slot, args, "deferred");
    const plan = executedCutoffPlan(reply, userId, meta, spared);
    await publication.publish(userId, [], userPending(plan.entry));
    return plan.cutoff;
  });
}
