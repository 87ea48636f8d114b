/**
 * Refresh-token rotation on Redis: the rotation script (lua/rotation.ts) decides and writes atomically
 * on the session's user slot; this side plans the same redemption with the core's `planRotation` on
 * the state the script decided on, answers with the plan's result and, on Cluster, publishes the
 * plan's feed entry. A script that disagrees with the plan is a store failure, never a silent answer.
 */
import { StoreUnavailableError } from "../../core/errors.js";
import type { RotateInput, RotateResult } from "../../core/model.js";
import { planRotation, type RotationDecision, type RotationPlan } from "../../core/refresh.js";
import { type Arg, MARGIN_MS } from "./connection.js";
import type { RedisContext } from "./context.js";
import { encodeKeyPart as enc } from "./layout.js";
import { ROTATE } from "./lua/rotation.js";
import { sessionPending } from "./publication.js";
import { rotateReply } from "./records.js";
import { cell } from "./replies.js";
import { globalCutoff, tokenOwner } from "./sessions.js";

/** Life of a refresh-token lookup written ahead of a rotation on Cluster, until the rotation confirms it. */
const PREWRITE_TTL_MS = 60_000;

/** The plan's write each decision of the script stands for. */
const WRITE_OF: Record<RotationDecision, RotationPlan["write"]> = {
  rotate: "advance",
  grace: "add_token",
  reuse: "revoke",
  revoked: "none",
  expired: "none",
  idle_expired: "none",
};

/**
 * The core's plan for the redemption the script decided, on the state it decided on; `null` when no
 * token has the hash.
 */
export function executedPlan(reply: unknown, input: RotateInput): RotationPlan | null {
  const r = rotateReply(reply);
  if (r === null) return null;
  const plan = planRotation(r.before, r.tokenGeneration, input, r.globalCutoff, r.user);
  const agrees =
    WRITE_OF[r.decision] === plan.write && (plan.write !== "none" || plan.result.status === r.decision);
  if (!agrees) {
    throw new StoreUnavailableError(
      `the redis rotation script (${r.decision}) and the core's plan (${plan.result.status}) disagree`,
    );
  }
  return plan;
}

/** Redeems a refresh token (`RevocationStore.rotateRefreshToken`): one script on standalone Redis; on Cluster a dry run, then the new lookup confirmed, or a reuse revoked under a publication intent. */
export async function rotateRefreshToken(ctx: RedisContext, input: RotateInput): Promise<RotateResult> {
  const { conn, keys, publication } = ctx;
  const [lookup, cutoff] = await Promise.all([
    conn.send("GET", keys.rt(input.presentedHash)).then(cell),
    // Standalone: the script reads the global cutoff itself; on Cluster it lives in another slot.
    conn.cluster ? globalCutoff(ctx) : 0,
  ]);
  if (lookup === null) return { status: "unknown" };
  const { userId, sessionId } = tokenOwner(lookup);
  const sk = keys.session(userId, sessionId);
  const cut = `${keys.user(userId)}cut`;
  const m = input.reuseMeta;
  const args: Arg[] = [
    input.presentedHash,
    input.newHash,
    input.now,
    input.graceMs,
    input.idleTtlMs,
    cutoff,
    m.reason,
    m.actor,
    m.at,
    m.ttl,
    lookup,
  ];
  const newKey = keys.rt(input.newHash);
  if (!conn.cluster) {
    return (
      executedPlan(await conn.run(ROTATE, [sk, cut, newKey], args), input)?.result ?? { status: "unknown" }
    );
  }
  // Cluster: the new token's lookup lives in another slot: written ahead, confirmed after.
  const [, reply] = await Promise.all([
    conn.send("SET", newKey, lookup, "PX", PREWRITE_TTL_MS),
    conn.run(ROTATE, [sk, cut], args, "dry"),
  ]);
  const first = executedPlan(reply, input);
  if (first === null) return { status: "unknown" };
  if (first.write === "advance" || first.write === "add_token") {
    const expiresAt = first.result.status === "rotated" ? first.result.session.expiresAt : input.now;
    await conn.send("PEXPIRE", newKey, Math.max(expiresAt - input.now, 0) + MARGIN_MS);
    return first.result;
  }
  if (first.write !== "revoke") return first.result;
  // Reuse on Cluster: intent first, then revoke (re-deciding on the current state), then publish.
  return publication.withIntent(userId, null, enc(sessionId), async () => {
    const plan = executedPlan(await conn.run(ROTATE, [sk, cut], args, "deferred"), input);
    if (plan === null) return { status: "unknown" };
    if (plan.write === "revoke") await publication.publish(userId, [sessionPending(plan.entry)], null);
    return plan.result;
  });
}
