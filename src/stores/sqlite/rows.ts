/**
 * The rows of the SQLite schema as the driver returns them, and their model forms. The one place that
 * knows column names and how JSON columns are encoded.
 */
import type {
  ClientRecord,
  RevocationEntry,
  SessionRecord,
  StoredKey,
  UserCutoff,
  UserRecord,
} from "../../core/model.js";

/** A `sessions` row (without `purge_after`, which only the purge reads). */
export interface SessionRow {
  id: string;
  user_id: string;
  client_id: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  idle_expires_at: number;
  user_agent: string | null;
  ip: string | null;
  claims: string | null;
  scope: string | null;
  generation: number;
  rotated_at: number | null;
  revoked_at: number | null;
  revoke_reason: string | null;
}

/** A `revocations` row: one feed entry. */
export interface RevocationRow {
  seq: number;
  kind: RevocationEntry["kind"];
  subject: string;
  cutoff: number | null;
  expires_at: number;
  reason: string;
  actor: string;
  at: number;
  except_session?: string | null;
}

/** A `user_cutoffs` row: a user's recorded cutoff and until when it is kept. */
export interface UserCutoffRow {
  user_id: string;
  cutoff: number;
  except_session: string | null;
  expires_at: number;
}

/** A `keys` row. */
export interface KeyRow {
  kid: string;
  alg: StoredKey["alg"];
  private_jwk: string;
  public_jwk: string | null;
  created_at: number;
  activate_at: number;
}

/** A `users` row joined with its `disabled_users` flag. */
export interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  created_at: number;
  disabled_at: number | null;
}

/** A `clients` row. */
export interface ClientRow {
  client_id: string;
  secret_hash: string | null;
  created_at: number;
}

/** The columns of a {@link SessionRow}, in the order `insertSession` binds them. */
export const SESSION_COLUMNS =
  "id, user_id, client_id, created_at, last_used_at, expires_at, idle_expires_at, user_agent, ip, claims, scope, generation, rotated_at, revoked_at, revoke_reason";

/** The model form of a session row. */
export function sessionFromRow(r: SessionRow): SessionRecord {
  return {
    id: r.id,
    userId: r.user_id,
    clientId: r.client_id,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    expiresAt: r.expires_at,
    idleExpiresAt: r.idle_expires_at,
    userAgent: r.user_agent,
    ip: r.ip,
    claims: r.claims === null ? null : (JSON.parse(r.claims) as Record<string, unknown>),
    scope: r.scope,
    generation: r.generation,
    rotatedAt: r.rotated_at,
    revokedAt: r.revoked_at,
    revokeReason: r.revoke_reason,
  };
}

/** The model form of a feed row. */
export function entryFromRow(r: RevocationRow): RevocationEntry {
  const entry: RevocationEntry = {
    seq: String(r.seq),
    kind: r.kind,
    subject: r.subject,
    expiresAt: r.expires_at,
    reason: r.reason,
    actor: r.actor,
    at: r.at,
  };
  if (r.cutoff !== null) entry.cutoff = r.cutoff;
  if (r.except_session !== null && r.except_session !== undefined) entry.exceptSessionId = r.except_session;
  return entry;
}

/** The cutoff of a user-cutoff row. */
export function cutoffFromRow(r: UserCutoffRow): UserCutoff {
  return { cutoff: r.cutoff, exceptSessionId: r.except_session };
}

/** The feed form of a user's recorded cutoff, as a snapshot lists it (no seq of its own). */
export function userEntryFromRow(u: UserCutoffRow): RevocationEntry {
  return {
    seq: "",
    kind: "user",
    subject: u.user_id,
    cutoff: u.cutoff,
    ...(u.except_session === null ? {} : { exceptSessionId: u.except_session }),
    expiresAt: u.expires_at,
    reason: "user_cutoff",
    actor: "system",
    at: u.cutoff,
  };
}

/** The model form of a key row. */
export function keyFromRow(r: KeyRow): StoredKey {
  return {
    kid: r.kid,
    alg: r.alg,
    privateJwk: JSON.parse(r.private_jwk) as Record<string, unknown>,
    publicJwk: r.public_jwk === null ? null : (JSON.parse(r.public_jwk) as Record<string, unknown>),
    createdAt: r.created_at,
    activateAt: r.activate_at,
  };
}

/** The model form of a user row. */
export function userFromRow(r: UserRow): UserRecord {
  return {
    id: r.id,
    username: r.username,
    passwordHash: r.password_hash,
    createdAt: r.created_at,
    disabledAt: r.disabled_at,
  };
}

/** The model form of a client row. */
export function clientFromRow(r: ClientRow): ClientRecord {
  return { clientId: r.client_id, secretHash: r.secret_hash, createdAt: r.created_at };
}
