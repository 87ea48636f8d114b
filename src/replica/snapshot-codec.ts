import type { SnapshotHead } from "../core/model.js";
import type { RevocationIndex } from "./index.js";

/**
 * The compact binary form of a revocation snapshot, shared by the server's revocation feed (what
 * remote verifiers download) and the checkpoints nodes keep in the store (what a new node loads).
 *
 * A sequence of frames, each a type byte, three zero bytes, the payload length (uint32,
 * little-endian) and the payload:
 * `0` (optional, first) the numbers of jti and session ids to come (two uint32, little-endian),
 * `1` jti ids, `2` session ids (24 bytes an entry: the id's four 32-bit words as made by
 * `idWords`, then its expiry as a float64, all little-endian), `3` rows of another shape (UTF-8, one
 * JSON array a line: user cutoffs, key withdrawals, ids that are not 128-bit), and `4`, last, the
 * head (UTF-8 JSON `{"global_cutoff", "cursor", "epoch"}`). Without the head a snapshot is incomplete.
 */
export const FRAME_HEADER = 8;
/** Bytes of one id entry: four 32-bit words and a float64 expiry. */
export const ENTRY_BYTES = 24;
/** Entries per id frame when streaming (64 KiB of payload). */
const STREAM_FRAME_ENTRIES = 2730;
/** Characters of rows gathered before a rows frame is written. */
const ROWS_CHUNK_CHARS = 64 * 1024;

/** The ids of one kind as raw words, as `CompactIndex.exportWords` gives them. */
export interface WordsPart {
  words: Uint32Array;
  expiresAt: Float64Array;
  others: [string, number][];
}

/** What a snapshot holds: the two id sets, other rows, and the head. */
export interface EncodableSnapshot extends SnapshotHead {
  jtis: WordsPart;
  sessions: WordsPart;
  rows: unknown[][];
}

function frameHeader(type: number, length: number): Buffer {
  const h = Buffer.alloc(FRAME_HEADER);
  h[0] = type;
  h.writeUInt32LE(length, 4);
  return h;
}

function headBody(head: SnapshotHead): Buffer {
  return Buffer.from(
    JSON.stringify({ global_cutoff: head.globalCutoff, cursor: head.cursor, epoch: head.epoch }),
  );
}

/**
 * Writes a snapshot incrementally as frames of at most 64 KiB, for streaming: ids as they come
 * ({@link id}), rows ({@link row}), then {@link end} with the head.
 * @example
 * const enc = new SnapshotEncoder((chunk) => res.write(chunk));
 * enc.sizes(jtiCount, sessionCount);
 * enc.id(0, words, 0, expiresAt);
 * enc.end({ globalCutoff, cursor, epoch });
 */
export class SnapshotEncoder {
  readonly #out: (chunk: Buffer) => void;
  readonly #frames = [this.#newFrame(), this.#newFrame()];
  readonly #counts = [0, 0];
  #rows = "";

  constructor(out: (chunk: Buffer) => void) {
    this.#out = out;
  }

  #newFrame(): DataView {
    return new DataView(new ArrayBuffer(FRAME_HEADER + STREAM_FRAME_ENTRIES * ENTRY_BYTES));
  }

  /** The numbers of jti and session ids to come, so a reader sizes its tables once. Optional, first. */
  sizes(jtis: number, sessions: number): void {
    const sizes = Buffer.alloc(FRAME_HEADER + 8);
    sizes.writeUInt32LE(8, 4);
    sizes.writeUInt32LE(jtis, FRAME_HEADER);
    sizes.writeUInt32LE(sessions, FRAME_HEADER + 4);
    this.#out(sizes);
  }

  /** One id (`kind` 0: jti, 1: session) given as the four words at `words[w..w+3]`. */
  id(kind: 0 | 1, words: Uint32Array, w: number, expiresAt: number): void {
    const frame = this.#frames[kind] as DataView;
    const at = FRAME_HEADER + (this.#counts[kind] as number) * ENTRY_BYTES;
    frame.setUint32(at, words[w] as number, true);
    frame.setUint32(at + 4, words[w + 1] as number, true);
    frame.setUint32(at + 8, words[w + 2] as number, true);
    frame.setUint32(at + 12, words[w + 3] as number, true);
    frame.setFloat64(at + 16, expiresAt, true);
    this.#counts[kind] = (this.#counts[kind] as number) + 1;
    if (this.#counts[kind] === STREAM_FRAME_ENTRIES) this.#flush(kind);
  }

  /** A row of another shape, as a store's snapshot sink gets it (`["user", id, expiresAt, cutoff]`, ...). */
  row(args: unknown[]): void {
    this.#rows += `${JSON.stringify(args)}\n`;
    if (this.#rows.length >= ROWS_CHUNK_CHARS) this.#flushRows();
  }

  /** Writes what is pending and the head: the snapshot is complete. */
  end(head: SnapshotHead): void {
    this.#flush(0);
    this.#flush(1);
    this.#flushRows();
    const body = headBody(head);
    this.#out(Buffer.concat([frameHeader(4, body.length), body]));
  }

  #flush(kind: 0 | 1): void {
    const n = this.#counts[kind] as number;
    if (n === 0) return;
    const frame = this.#frames[kind] as DataView;
    frame.setUint8(0, kind + 1);
    frame.setUint32(4, n * ENTRY_BYTES, true);
    this.#out(Buffer.from(frame.buffer, 0, FRAME_HEADER + n * ENTRY_BYTES));
    this.#frames[kind] = this.#newFrame();
    this.#counts[kind] = 0;
  }

  #flushRows(): void {
    if (this.#rows === "") return;
    const body = Buffer.from(this.#rows, "utf8");
    this.#out(Buffer.concat([frameHeader(3, body.length), body]));
    this.#rows = "";
  }
}

/**
 * A whole snapshot as one buffer with one frame per id kind (what a checkpoint stores): about 24
 * bytes an id. Synchronous: the caller holds a copy taken at one moment (`Replica.exportSnapshot`).
 */
export function encodeSnapshot(snap: EncodableSnapshot): Buffer {
  const parts: Buffer[] = [];
  const sizes = Buffer.alloc(FRAME_HEADER + 8);
  sizes.writeUInt32LE(8, 4);
  sizes.writeUInt32LE(snap.jtis.expiresAt.length, FRAME_HEADER);
  sizes.writeUInt32LE(snap.sessions.expiresAt.length, FRAME_HEADER + 4);
  parts.push(sizes);
  const rows: unknown[][] = [];
  for (const [type, kind, part] of [
    [1, "jti", snap.jtis],
    [2, "session", snap.sessions],
  ] as const) {
    const n = part.expiresAt.length;
    const frame = Buffer.alloc(FRAME_HEADER + n * ENTRY_BYTES);
    frame[0] = type;
    frame.writeUInt32LE(n * ENTRY_BYTES, 4);
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const { words, expiresAt } = part;
    for (let i = 0, at = FRAME_HEADER; i < n; i++, at += ENTRY_BYTES) {
      view.setUint32(at, words[4 * i] as number, true);
      view.setUint32(at + 4, words[4 * i + 1] as number, true);
      view.setUint32(at + 8, words[4 * i + 2] as number, true);
      view.setUint32(at + 12, words[4 * i + 3] as number, true);
      view.setFloat64(at + 16, expiresAt[i] as number, true);
    }
    if (n > 0) parts.push(frame);
    for (const [subject, until] of part.others) rows.push([kind, subject, until]);
  }
  rows.push(...snap.rows);
  if (rows.length > 0) {
    const body = Buffer.from(rows.map((r) => `${JSON.stringify(r)}\n`).join(""), "utf8");
    parts.push(frameHeader(3, body.length), body);
  }
  const head = headBody(snap);
  parts.push(frameHeader(4, head.length), head);
  return Buffer.concat(parts);
}

/** Where a decoded snapshot goes: ids straight into the indexes, other rows to `row`. */
export interface SnapshotTarget {
  jtis: RevocationIndex;
  sessions: RevocationIndex;
  /** A row of another shape (`["user", id, expiresAt, cutoff]`, `["jti", "key:KID", until]`, ...). */
  row(args: unknown[]): void;
}

/**
 * Reads the binary form chunk by chunk (frames may be split anywhere) into a {@link SnapshotTarget};
 * {@link end} returns the head, and throws when the snapshot is malformed or incomplete.
 * Indexes without `addWords` get each id through `row` as `[kind, words]`: callers that cannot take
 * words must ask for the text form instead.
 * @example
 * const dec = new SnapshotDecoder({ jtis, sessions, row: (r) => apply(...r) });
 * for await (const chunk of body) dec.push(chunk);
 * const head = dec.end();
 */
export class SnapshotDecoder {
  readonly #target: SnapshotTarget;
  #pending: Buffer = Buffer.alloc(0);
  #head: SnapshotHead | undefined;

  constructor(target: SnapshotTarget) {
    this.#target = target;
  }

  /** Takes the next bytes. Throws on a malformed frame. */
  push(chunk: Buffer): void {
    let all = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (all.length >= FRAME_HEADER) {
      const size = all.readUInt32LE(4);
      if (all.length < FRAME_HEADER + size) break;
      this.#frame(all[0] as number, all.subarray(FRAME_HEADER, FRAME_HEADER + size));
      all = all.subarray(FRAME_HEADER + size);
    }
    this.#pending = all;
  }

  /** The head, once everything was pushed. Throws when the snapshot ended early. */
  end(): SnapshotHead {
    if (this.#pending.length !== 0 || !this.#head) throw new Error("the snapshot ended early");
    return this.#head;
  }

  #frame(type: number, body: Buffer): void {
    if (this.#head) throw new Error("the snapshot goes on after its head");
    const { jtis, sessions } = this.#target;
    if (type === 0) {
      if (body.length !== 8) throw new Error("a snapshot frame is malformed");
      jtis.reserve?.(body.readUInt32LE(0));
      sessions.reserve?.(body.readUInt32LE(4));
    } else if (type === 1 || type === 2) {
      if (body.length % ENTRY_BYTES !== 0) throw new Error("a snapshot frame is malformed");
      const index = type === 1 ? jtis : sessions;
      if (!index.addWords) throw new Error("this index cannot take a binary snapshot");
      const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
      for (let at = 0; at < body.length; at += ENTRY_BYTES) {
        index.addWords(
          view.getUint32(at, true),
          view.getUint32(at + 4, true),
          view.getUint32(at + 8, true),
          view.getUint32(at + 12, true),
          view.getFloat64(at + 16, true),
        );
      }
    } else if (type === 3) {
      for (const text of body.toString("utf8").split("\n")) {
        if (text === "") continue;
        const row = JSON.parse(text) as unknown;
        if (!Array.isArray(row)) throw new Error("a snapshot row is malformed");
        this.#target.row(row);
      }
    } else if (type === 4) {
      this.#head = parseHead(body.toString("utf8"));
    } else throw new Error("a snapshot frame is of an unknown type");
  }
}

/** The head line `{"global_cutoff", "cursor", "epoch"}` of a snapshot (text or binary form). */
export function parseHead(text: string): SnapshotHead {
  const h = JSON.parse(text) as { global_cutoff?: unknown; cursor?: unknown; epoch?: unknown };
  if (typeof h.global_cutoff !== "number" || typeof h.cursor !== "string" || typeof h.epoch !== "string")
    throw new Error("the snapshot head is malformed");
  return { globalCutoff: h.global_cutoff, cursor: h.cursor, epoch: h.epoch };
}
