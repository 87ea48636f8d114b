/**
 * The feed's write path and its hash chain (see the module comment of `index.ts`): the one statement
 * that appends entries under the state row's lock, and the cursor rules that tell a reader whether
 * the feed still continues the history it has read.
 * @module
 */
import { randomBytes } from "node:crypto";
import type { NewRevocation, RevocationEntry } from "../../core/model.js";
import { ms } from "./rows.js";

/** `"<seq>"` (older versions; unchecked) or `"<seq>.<tag>"` (checked against the hash chain). */
const CURSOR_RE = /^(\d{1,19})(?:\.([0-9a-f]{16}))?$/;

/**
 * The statement that appends entries ($2..$8 arrays, $1 how many, $9 the NOTIFY channel, $10 their
 * tags) in schema `s`: takes the next seqs from the state row (its lock orders commits by seq), links
 * each entry to the one before it (the hash chain: `prev_tag`), inserts, and notifies. The SET
 * expressions read the row as locked, so `prev_last_tag` is the tag of the entry before this batch
 * even when this statement waited for another writer. $11: the spared session of each `user` entry
 * (or null). Caller parameters start at $12 ({@link appendParams} gives $1..$11).
 * With `withCte` and `where`, appends only when the condition holds (e.g. the session changed); `set`
 * adds assignments to the state row. Returns one row, `last_seq`, when it appended.
 */
export function appendSql(
  s: string,
  withCte: string | null = null,
  where: string | null = null,
  set = "",
): string {
  return `
      WITH ${withCte ? `${withCte},` : ""}
      st AS (
        UPDATE ${s}.state SET last_seq = last_seq + $1::bigint, prev_last_tag = last_tag,
          last_tag = ($10::text[])[$1::integer] ${set}
        WHERE id = 1 ${where ? `AND ${where}` : ""}
        RETURNING last_seq, prev_last_tag
      ),
      ins AS (
        INSERT INTO ${s}.revocations (seq, kind, subject, cutoff, expires_at, reason, actor, at, tag, prev_tag, except_session)
        SELECT st.last_seq - $1::bigint + u.ord, u.kind, u.subject, u.cutoff, u.expires_at, u.reason, u.actor, u.at,
          u.tag, CASE WHEN u.ord = 1 THEN st.prev_last_tag ELSE ($10::text[])[(u.ord - 1)::integer] END, u.except_session
        FROM st, unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::bigint[], $10::text[], $11::text[])
          WITH ORDINALITY AS u(kind, subject, cutoff, expires_at, reason, actor, at, tag, except_session, ord)
      )
      SELECT st.last_seq::text AS last_seq, pg_notify($9, st.last_seq::text) FROM st`;
}

/** Parameters $1..$11 of {@link appendSql} for `entries`, each with a new tag. */
export function appendParams(entries: NewRevocation[], channel: string): unknown[] {
  return [
    entries.length,
    entries.map((e) => e.kind),
    entries.map((e) => e.subject),
    entries.map((e) => (e.kind === "global" || e.kind === "user" ? ms(e.cutoff ?? 0) : null)),
    entries.map((e) => ms(e.expiresAt)),
    entries.map((e) => e.reason),
    entries.map((e) => e.actor),
    entries.map((e) => ms(e.at)),
    channel,
    entries.map(() => newTag()),
    entries.map((e) => e.exceptSessionId ?? null),
  ];
}

/** The entries as recorded: consecutive seqs ending at `last`. */
export function withSeqs(entries: NewRevocation[], last: string): RevocationEntry[] {
  const first = BigInt(last) - BigInt(entries.length) + 1n;
  return entries.map((e, i) => {
    const out: RevocationEntry = {
      seq: String(first + BigInt(i)),
      kind: e.kind,
      subject: e.subject,
      expiresAt: ms(e.expiresAt),
      reason: e.reason,
      actor: e.actor,
      at: ms(e.at),
    };
    if (e.kind === "global" || e.kind === "user") out.cutoff = ms(e.cutoff ?? 0);
    if (e.exceptSessionId !== undefined) out.exceptSessionId = e.exceptSessionId;
    return out;
  });
}

/** A feed entry's identity in the hash chain: 64 random bits, as 16 hex digits. */
function newTag(): string {
  return randomBytes(8).toString("hex");
}

/** The cursor after an entry (or the state row's end of feed): tagged when the tag is known. */
export function cursorOf(seq: unknown, tag: unknown): string {
  return tag === null || tag === undefined ? String(seq) : `${String(seq)}.${String(tag)}`;
}

/** A parsed feed cursor: the position, and the tag of the entry there when the cursor carries one. */
export interface Cursor {
  /** The cursor as given (returned unchanged by an empty batch). */
  text: string;
  seq: bigint;
  /** `undefined` for an untagged cursor (older versions, or no tagged entry yet): not checked. */
  tag: string | undefined;
}

/** Parses `"<seq>"` or `"<seq>.<tag>"`; anything else reads as the start of the feed, `"0"`. */
export function parseCursor(cursor: unknown): Cursor {
  const m = typeof cursor === "string" ? CURSOR_RE.exec(cursor) : null;
  if (!m) return { text: "0", seq: 0n, tag: undefined };
  return { text: m[0], seq: BigInt(m[1] ?? "0"), tag: m[2] };
}

/**
 * Whether the feed still continues the history that a reader at `cursor` (position N, tag T) has
 * read, judged by identity rather than position. Tags are random, so an entry written after the
 * database went back in time never carries the tag the reader holds. The rule, in order:
 *
 * 1. N beyond `last_seq`: the database never got that far (again): **lost**.
 * 2. An untagged cursor: nothing to check (older versions; entries from before the chain): ok.
 * 3. Entry N+1 is the first one after N: its `prev_tag` must be T (an entry without one was written
 *    by an older version during an upgrade and is not checked).
 * 4. Nothing after N and `last_seq` is N: `last_tag` must be T.
 * 5. Otherwise the entries right after N were purged (expired; they expire in any order). Entry N
 *    itself, when still there, must carry T.
 * 6. Entries N and N+1 both purged: the chain cannot be checked here, and the reader is resynced
 *    (every active entry again), never alarmed: purging alone must not log every user out.
 *
 * So normal purging never raises a false alarm (every check compares tags of one history), and a
 * lost history is reported whenever the reader's entry or its successor is still in the table, which
 * for a node that keeps polling is always the case: entries are purged only once expired. (Only a
 * node cut off for longer than its successors' lifetime across such a crash falls to rule 6, where
 * the resync still gives it every active entry of the database as it is now.)
 */
export function checkChain(
  cursor: Cursor,
  head: { lastSeq: bigint; lastTag: string | null; atTag: string | null },
  first: { seq: bigint; prevTag: string | null } | undefined,
): "ok" | "lost" | "unverifiable" {
  if (cursor.seq > head.lastSeq) return "lost";
  if (cursor.tag === undefined) return "ok";
  if (first && first.seq === cursor.seq + 1n) {
    return first.prevTag === null || first.prevTag === cursor.tag ? "ok" : "lost";
  }
  if (!first && head.lastSeq === cursor.seq) return head.lastTag === cursor.tag ? "ok" : "lost";
  if (head.atTag !== null) return head.atTag === cursor.tag ? "ok" : "lost";
  return "unverifiable";
}
