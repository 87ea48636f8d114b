/**
 * How the Redis store's records map to the model: the session hash, feed entries (stream entries and
 * active-index records), and the replies of the session scripts (lua/).
 */

import { StoreUnavailableError } from "../../core/errors.js";
import type { RevocationEntry, SessionRecord, UserCutoff } from "../../core/model.js";
import type { RotationDecision } from "../../core/refresh.js";
import type { Arg } from "./connection.js";
import { SESSION_FIELDS } from "./lua/lib.js";
import { type Cell, cells, list, type StreamEntry, str, strings, tuple } from "./replies.js";

type SessionField = (typeof SESSION_FIELDS)[number];
const SESSION_INDEX = new Map<string, number>(SESSION_FIELDS.map((f, i) => [f, i]));

/** A session row as the scripts return it (`record()`: the fields of {@link SESSION_FIELDS}, in order). */
export type SessionRow = Cell[];

/** A field of a session row. */
export function rowField(row: SessionRow | undefined, name: SessionField): Cell {
  return row?.[SESSION_INDEX.get(name) ?? -1] ?? null;
}

/** The hash fields of a new session record (absent = null). */
export function sessionPairs(s: SessionRecord): Arg[] {
  const pairs: Arg[] = ["id", s.id, "uid", s.userId, "cid", s.clientId, "ca", s.createdAt];
  pairs.push("lu", s.lastUsedAt, "ex", s.expiresAt, "ie", s.idleExpiresAt, "g", s.generation);
  const optional: [string, string | number | null][] = [
    ["ua", s.userAgent],
    ["ip", s.ip],
    ["cl", s.claims === null ? null : JSON.stringify(s.claims)],
    ["sc", s.scope],
    ["ra", s.rotatedAt],
    ["rv", s.revokedAt],
    ["rr", s.revokeReason],
  ];
  for (const [field, value] of optional) if (value !== null && value !== undefined) pairs.push(field, value);
  return pairs;
}

function claimsOf(text: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new StoreUnavailableError("unexpected session claims in redis (expected an object)");
  }
  return Object.fromEntries(Object.entries(value));
}

/** A session row as a record; `null` when the session is gone. */
export function toSession(row: SessionRow | undefined): SessionRecord | null {
  const f = (name: SessionField): Cell => rowField(row, name);
  const id = f("id");
  const userId = f("uid");
  if (id === null || userId === null) return null;
  const num = (name: SessionField) => Number(f(name));
  const opt = (name: SessionField) => (f(name) === null ? null : num(name));
  const claims = f("cl");
  return {
    id,
    userId,
    clientId: f("cid") ?? "default",
    createdAt: num("ca"),
    lastUsedAt: num("lu"),
    expiresAt: num("ex"),
    idleExpiresAt: num("ie"),
    userAgent: f("ua"),
    ip: f("ip"),
    claims: claims === null ? null : claimsOf(claims),
    scope: f("sc"),
    generation: num("g"),
    rotatedAt: opt("ra"),
    revokedAt: opt("rv"),
    revokeReason: f("rr"),
  };
}

/** Rows of session records (the listing scripts). */
export function sessionRows(reply: unknown): SessionRow[] {
  return list(reply).map(cells);
}

/** Sessions of rows, newest first (ties in creation order), keeping those `keep` accepts. */
export function newestFirst(rows: SessionRow[], keep: (s: SessionRecord) => boolean): SessionRecord[] {
  const out: { s: SessionRecord; n: number }[] = [];
  for (const row of rows) {
    const s = toSession(row);
    if (s && keep(s)) out.push({ s, n: Number(rowField(row, "n") ?? 0) });
  }
  out.sort((a, b) => b.s.createdAt - a.s.createdAt || a.n - b.n);
  return out.map((x) => x.s);
}

const KINDS: readonly RevocationEntry["kind"][] = ["jti", "session", "user", "global"];

function kindOf(text: string | undefined): RevocationEntry["kind"] {
  const kind = KINDS.find((k) => k === text);
  if (kind === undefined) throw new StoreUnavailableError("unexpected feed entry kind in redis");
  return kind;
}

/** A feed entry from its fields (`k` kind, `s` subject, `x` expiry, `r`, `a`, `t`, `c` cutoff, `p` spared). */
export function fieldsToEntry(seq: string, fields: [string, string][]): RevocationEntry {
  const m = new Map(fields);
  const entry: RevocationEntry = {
    seq,
    kind: kindOf(m.get("k")),
    subject: m.get("s") ?? "",
    expiresAt: Number(m.get("x")),
    reason: m.get("r") ?? "",
    actor: m.get("a") ?? "",
    at: Number(m.get("t")),
  };
  const cutoff = m.get("c");
  if (cutoff !== undefined) entry.cutoff = Number(cutoff);
  const spared = m.get("p");
  if (spared !== undefined && spared !== "") entry.exceptSessionId = spared;
  return entry;
}

/** A feed entry of the stream. */
export function streamToEntry(e: StreamEntry): RevocationEntry {
  return fieldsToEntry(e.id, e.fields);
}

/** An active-entry record (a hash: `q` = seq, then the stream fields). */
export function recordToEntry(fields: [string, string][]): RevocationEntry {
  return fieldsToEntry(fields.find(([f]) => f === "q")?.[1] ?? "", fields);
}

/** A session feed entry prepared by a deferred revocation: sid, expiresAt, reason, actor, at. */
export type Pending = [string, string, string, string, string];

/** One prepared session entry. */
export function pendingEntry(reply: unknown): Pending {
  const [sid, exp, reason, actor, at] = strings(tuple(reply, 5));
  return [sid ?? "", exp ?? "", reason ?? "", actor ?? "", at ?? ""];
}

/** The reply of the revocation script: `{newly revoked ids, entries to publish}`. */
export function revokeReply(reply: unknown): { changed: string[]; pending: Pending[] } {
  const [changed, pending] = tuple(reply, 2);
  return { changed: strings(changed), pending: list(pending).map(pendingEntry) };
}

/** The reply of the rotation script (lua/rotation.ts), `null` when no token has the hash. */
export interface RotateReply {
  decision: RotationDecision;
  /** The session as the script left it. */
  after: SessionRecord;
  /** The session the script decided on. */
  before: SessionRecord;
  tokenGeneration: number;
  globalCutoff: number;
  user: UserCutoff | null;
}

const DECISIONS: readonly RotationDecision[] = [
  "rotate",
  "grace",
  "reuse",
  "revoked",
  "expired",
  "idle_expired",
];

/** Reads the rotation script's reply; `null` when no token has the hash or the session is gone. */
export function rotateReply(reply: unknown): RotateReply | null {
  const r = list(reply);
  if (r[0] === "unknown") return null;
  const [d, after, before, tg, cutoff, userCut, spared] = tuple(r, 7);
  const decision = DECISIONS.find((x) => x === d);
  if (decision === undefined)
    throw new StoreUnavailableError(`unexpected rotation outcome from redis: ${str(d)}`);
  const afterSession = toSession(cells(after));
  const beforeSession = toSession(cells(before));
  if (!afterSession || !beforeSession) return null;
  const c = str(userCut);
  return {
    decision,
    after: afterSession,
    before: beforeSession,
    tokenGeneration: Number(str(tg)),
    globalCutoff: Number(str(cutoff)),
    user: c === "" ? null : { cutoff: Number(c), exceptSessionId: str(spared) || null },
  };
}

/** The reply of the user-cutoff script (lua/user-cutoff.ts): what it recorded and what it decided on. */
export interface CutReply {
  recorded: UserCutoff & { expiresAt: number };
  prev: (UserCutoff & { expiresAt: number }) | null;
  newestCreatedAt: number | null;
  kept: { userId: string; createdAt: number } | null;
}

/** Reads the user-cutoff script's reply. */
export function cutReply(reply: unknown): CutReply {
  const [c, p, e, pc, pp, pe, newest, keptCa, keptUid] = strings(tuple(reply, 9));
  const num = (s: string | undefined) => (s === undefined || s === "" ? null : Number(s));
  const prevCutoff = num(pc);
  const keptAt = num(keptCa);
  return {
    recorded: { cutoff: Number(c), exceptSessionId: p || null, expiresAt: Number(e) },
    prev:
      prevCutoff === null
        ? null
        : { cutoff: prevCutoff, exceptSessionId: pp || null, expiresAt: num(pe) ?? 0 },
    newestCreatedAt: num(newest),
    kept: keptAt === null ? null : { userId: keptUid ?? "", createdAt: keptAt },
  };
}
