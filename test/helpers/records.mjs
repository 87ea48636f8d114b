// @ts-check
// Store records for tests. JavaScript, so that child-process fixtures under plain node use it too.
import { randomUUID } from "node:crypto";

/** @typedef {import("../../src/core/model.js").SessionRecord} SessionRecord */

/** The default time of {@link sessionRecord}: 2025-01-01T00:00:00Z. */
export const RECORD_T0 = Date.UTC(2025, 0, 1);

/**
 * A live session record: created and last used at `at` (default {@link RECORD_T0}), both lifetimes
 * ending at `at + ttl` (default one day), random UUIDs as id and userId, client `default`, generation
 * 0, every optional field `null`; any field of `overrides` replaces the default.
 * @param {Partial<SessionRecord> & { at?: number, ttl?: number }} [overrides]
 * @returns {SessionRecord}
 */
export function sessionRecord(overrides = {}) {
  const { at = RECORD_T0, ttl = 86_400_000, ...fields } = overrides;
  return {
    id: randomUUID(),
    userId: randomUUID(),
    clientId: "default",
    createdAt: at,
    lastUsedAt: at,
    expiresAt: at + ttl,
    idleExpiresAt: at + ttl,
    userAgent: null,
    ip: null,
    claims: null,
    scope: null,
    generation: 0,
    rotatedAt: null,
    revokedAt: null,
    revokeReason: null,
    ...fields,
  };
}

/** The time of {@link ruleSession}. */
export const RULE_T = 1_800_000_000_000;

/**
 * The session the rule tables start from: id `s` of user `u`, authenticated a minute before
 * {@link RULE_T}, at generation 3, rotated and used 5 s before it, idle end an hour after it.
 * @returns {SessionRecord}
 */
export function ruleSession() {
  return sessionRecord({
    id: "s",
    userId: "u",
    at: RULE_T - 60_000,
    ttl: 86_400_000 + 60_000,
    lastUsedAt: RULE_T - 5_000,
    idleExpiresAt: RULE_T + 3_600_000,
    generation: 3,
    rotatedAt: RULE_T - 5_000,
  });
}
