/**
 * Rows to records and back: the parsers that give `pg`'s untyped rows the model's types, the
 * session columns, and the small value helpers (`int8` arrives as a string).
 * @module
 */
import { isAlgorithm } from "../../core/keys.js";
import type {
  ClientRecord,
  RevocationEntry,
  SessionRecord,
  StoredKey,
  UserCutoff,
  UserRecord,
} from "../../core/model.js";
import type { Row } from "./db.js";

/** The columns of a session row, in the order of {@link sessionParams}. */
export const SESSION_COLUMNS = [
  "id",
  "user_id",
  "client_id",
  "created_at",
  "last_used_at",
  "expires_at",
  "idle_expires_at",
  "user_agent",
  "ip",
  "claims::text AS claims",
  "scope",
  "generation",
  "rotated_at",
  "revoked_at",
  "revoke_reason",
].join(", ");

/** {@link SESSION_COLUMNS} of table alias `alias` (`s.id, s.user_id, ...`). */
export function prefixed(alias: string, columns: string): string {
  return columns
    .split(", ")
    .map((c) => `${alias}.${c}`)
    .join(", ");
}

/** The parameters of an insert of `s` ($1..$15, in the order of {@link SESSION_COLUMNS}). */
export function sessionParams(s: SessionRecord): unknown[] {
  return [
    s.id,
    s.userId,
    s.clientId,
    ms(s.createdAt),
    ms(s.lastUsedAt),
    ms(s.expiresAt),
    ms(s.idleExpiresAt),
    s.userAgent,
    s.ip,
    s.claims === null ? null : JSON.stringify(s.claims),
    s.scope,
    s.generation,
    s.rotatedAt === null ? null : ms(s.rotatedAt),
    s.revokedAt === null ? null : ms(s.revokedAt),
    s.revokeReason,
  ];
}

/** A session row (columns {@link SESSION_COLUMNS}). */
export function toSession(r: Row): SessionRecord {
  return {
    id: String(r.id),
    userId: String(r.user_id),
    clientId: String(r.client_id),
    createdAt: num(r.created_at),
    lastUsedAt: num(r.last_used_at),
    expiresAt: num(r.expires_at),
    idleExpiresAt: num(r.idle_expires_at),
    userAgent: strOrNull(r.user_agent),
    ip: strOrNull(r.ip),
    claims: r.claims === null ? null : jsonObject(r.claims),
    scope: strOrNull(r.scope),
    generation: Number(r.generation),
    rotatedAt: numOrNull(r.rotated_at),
    revokedAt: numOrNull(r.revoked_at),
    revokeReason: strOrNull(r.revoke_reason),
  };
}

/** A key row; its JWKs are read as text (`private_jwk::text`). */
export function toKey(r: Row): StoredKey {
  if (!isAlgorithm(r.alg)) throw new TypeError("a stored key has an unknown algorithm");
  return {
    kid: String(r.kid),
    alg: r.alg,
    privateJwk: jsonObject(r.private_jwk),
    publicJwk: r.public_jwk === null ? null : jsonObject(r.public_jwk),
    createdAt: num(r.created_at),
    activateAt: num(r.activate_at),
  };
}

/** A feed row (`seq, kind, subject, cutoff, expires_at, reason, actor, at, except_session`). */
export function toEntry(r: Row): RevocationEntry {
  const e: RevocationEntry = {
    seq: String(r.seq),
    kind: entryKind(r.kind),
    subject: String(r.subject),
    expiresAt: num(r.expires_at),
    reason: String(r.reason),
    actor: String(r.actor),
    at: num(r.at),
  };
  if (r.cutoff !== null && r.cutoff !== undefined) e.cutoff = num(r.cutoff);
  if (r.except_session !== null && r.except_session !== undefined)
    e.exceptSessionId = String(r.except_session);
  return e;
}

/** A snapshot's feed row in array mode: `[seq, kind, subject, expires_at, reason, actor, at]`. */
export function toEntryFromArray(r: unknown[]): RevocationEntry {
  return {
    seq: String(r[0]),
    kind: entryKind(r[1]),
    subject: String(r[2]),
    expiresAt: num(r[3]),
    reason: String(r[4]),
    actor: String(r[5]),
    at: num(r[6]),
  };
}

/** The kind of a stored `jti` or `session` entry (what snapshots read). */
export function liveKind(v: unknown): "jti" | "session" {
  if (v === "jti" || v === "session") return v;
  throw new TypeError("a snapshot row has an unexpected kind");
}

function entryKind(v: unknown): RevocationEntry["kind"] {
  if (v === "jti" || v === "session" || v === "user" || v === "global") return v;
  throw new TypeError("a feed row has an unknown kind");
}

/** A user cutoff from its columns, `null` when there is none. */
export function toUserCutoff(cutoff: unknown, except: unknown): UserCutoff | null {
  return cutoff === null || cutoff === undefined
    ? null
    : { cutoff: num(cutoff), exceptSessionId: strOrNull(except) };
}

/** A snapshot's entry for one active user cutoff row (`user_id, cutoff, except_session, cutoff_expires_at`). */
export function toUserEntry(u: Row): RevocationEntry {
  const e: RevocationEntry = {
    seq: "",
    kind: "user",
    subject: String(u.user_id),
    cutoff: num(u.cutoff),
    expiresAt: num(u.cutoff_expires_at),
    reason: "user_cutoff",
    actor: "system",
    at: num(u.cutoff),
  };
  if (u.except_session !== null && u.except_session !== undefined)
    e.exceptSessionId = String(u.except_session);
  return e;
}

/** A user row joined with its flag row's `disabled_at`. */
export function toUser(r: Row): UserRecord {
  return {
    id: String(r.id),
    username: String(r.username),
    passwordHash: String(r.password_hash),
    createdAt: num(r.created_at),
    disabledAt: numOrNull(r.disabled_at),
  };
}

/** A client row. */
export function toClient(r: Row): ClientRecord {
  return {
    clientId: String(r.client_id),
    secretHash: strOrNull(r.secret_hash),
    createdAt: num(r.created_at),
  };
}

/** A JSON object stored as `json` and read as text. */
function jsonObject(v: unknown): Record<string, unknown> {
  const parsed: unknown = JSON.parse(String(v));
  if (!isRecord(parsed)) throw new TypeError("a stored JSON column is not an object");
  return parsed;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** int8 arrives as a string (or a number when the pool's type parsers say so). */
export function num(v: unknown): number {
  return typeof v === "number" ? v : Number(v);
}

/** {@link num}, or `null` for SQL NULL. */
export function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}

/** A text column, or `null` for SQL NULL. */
export function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

/** A time or duration in whole milliseconds (sub-millisecond parts are meaningless here). */
export function ms(v: number): number {
  if (typeof v !== "number" || !Number.isFinite(v))
    throw new TypeError("times and durations must be finite numbers");
  return Math.round(v);
}
