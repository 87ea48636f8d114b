/**
 * Security Event Tokens (RFC 8417) for revocations: which OpenID CAEP events a revocation feed entry
 * means, and their claims. Pure: no I/O, the time is passed in.
 */
import { createHash } from "node:crypto";

/** CAEP event type URIs. */
export const CAEP_SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
export const CAEP_CREDENTIAL_CHANGE = "https://schemas.openid.net/secevent/caep/event-type/credential-change";

/** The fields of a revocation feed entry a SET is made from. */
export interface RevocationFact {
  kind: string;
  subject: string;
  reason: string;
  actor: string;
  /** When it happened, ms. */
  at: number;
}

/** One event to send: its type, its RFC 9493 subject and its event claims. */
export interface SecurityEvent {
  type: string;
  subId: Record<string, string>;
  claims: Record<string, unknown>;
}

/**
 * The CAEP events a revocation means: `session-revoked` for every session it ended (subject: the
 * session id, as in the `sid` claim of its tokens): the session of a `session` entry, or, for a
 * user-wide revocation (a `user` entry), each of `endedSessionIds`, the sessions the user's cutoff
 * ended (read from the store by the caller; a password change keeps the caller's session, which gets
 * none), plus `credential-change` (subject: the user, `iss_sub`) after a password change. Single-token
 * and global revocations send no event.
 */
export function eventsFor(
  entry: RevocationFact,
  issuer: string,
  endedSessionIds: readonly string[] = [],
): SecurityEvent[] {
  const timestamp = Math.floor(entry.at / 1000);
  const common = {
    event_timestamp: timestamp,
    initiating_entity: initiatingEntity(entry),
    reason_admin: { en: entry.reason },
  };
  if (entry.kind === "session") {
    return [{ type: CAEP_SESSION_REVOKED, subId: { format: "opaque", id: entry.subject }, claims: common }];
  }
  if (entry.kind !== "user") return [];
  const out: SecurityEvent[] = endedSessionIds.map((id) => ({
    type: CAEP_SESSION_REVOKED,
    subId: { format: "opaque", id },
    claims: common,
  }));
  if (entry.reason === "password_change") {
    out.push({
      type: CAEP_CREDENTIAL_CHANGE,
      subId: { format: "iss_sub", iss: issuer, sub: entry.subject },
      claims: { ...common, credential_type: "password", change_type: "update" },
    });
  }
  return out;
}

function initiatingEntity(entry: RevocationFact): "admin" | "user" | "policy" | "system" {
  if (entry.reason === "refresh_token_reuse" || entry.reason === "store_data_loss") return "policy";
  if (entry.actor === "admin") return "admin";
  if (entry.actor === "system") return "system";
  return "user";
}

/**
 * The SET's `jti`: a hash of the revocation, the event and the receiver, so the same revocation read
 * twice (a retry, another node, a replayed feed) makes the same event, which the outbox adds once. An
 * event about another subject than the entry's (a session a user-wide revocation ended) hashes that
 * subject too, so each ended session gets its own event.
 */
export function eventId(entry: RevocationFact, event: SecurityEvent, clientId: string): string {
  const parts: unknown[] = [clientId, event.type, entry.kind, entry.subject, entry.at, entry.reason];
  const about = event.subId.format === "opaque" ? event.subId.id : undefined;
  if (about !== undefined && about !== entry.subject) parts.push(about);
  return createHash("sha256").update(parts.join("\0")).digest("base64url").slice(0, 32);
}

/** The claims of a SET (RFC 8417 §2.2, SSF `sub_id`), for one receiver. */
export function setClaims(
  event: SecurityEvent,
  options: { issuer: string; audience: string; jti: string; now: number },
): Record<string, unknown> {
  return {
    iss: options.issuer,
    aud: options.audience,
    iat: Math.floor(options.now / 1000),
    jti: options.jti,
    sub_id: event.subId,
    events: { [event.type]: event.claims },
  };
}
