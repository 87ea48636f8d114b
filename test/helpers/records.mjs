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
