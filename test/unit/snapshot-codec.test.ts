/**
 * The binary snapshot form (served to remote verifiers, kept in the store as checkpoints): what is
 * encoded comes back exactly, whichever way the bytes are split, and a malformed or truncated
 * snapshot is refused instead of loading part of it.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CompactIndex } from "../../src/replica/compact-index.js";
import {
  type EncodableSnapshot,
  encodeSnapshot,
  SnapshotDecoder,
  SnapshotEncoder,
} from "../../src/replica/snapshot-codec.js";

const id = () => randomBytes(16).toString("base64url");
const NOW = 1_800_000_000_000;

function filled(): { jtis: CompactIndex; sessions: CompactIndex; snap: EncodableSnapshot; keys: string[][] } {
  const jtis = new CompactIndex();
  const sessions = new CompactIndex();
  const jtiKeys = Array.from({ length: 3000 }, id);
  const sessionKeys = Array.from({ length: 500 }, id);
  for (const [i, k] of jtiKeys.entries()) jtis.add(k, NOW + 1000 + i);
  for (const [i, k] of sessionKeys.entries()) sessions.add(k, NOW + 2000 + i);
  jtis.add("not-a-128-bit-id", NOW + 5000); // a key kept as a string
  jtis.add(id(), NOW - 1); // expired: not exported
  const snap: EncodableSnapshot = {
    jtis: jtis.exportWords(NOW),
    sessions: sessions.exportWords(NOW),
    rows: [
      ["user", "alice", NOW + 9000, { cutoff: NOW - 10, exceptSessionId: null }],
      ["jti", "key:k1", NOW + 9000],
    ],
    globalCutoff: NOW - 60_000,
    cursor: "1234",
    epoch: "e-1",
  };
  return { jtis, sessions, snap, keys: [[...jtiKeys, "not-a-128-bit-id"], sessionKeys] };
}

function decode(chunks: Buffer[]) {
  const jtis = new CompactIndex();
  const sessions = new CompactIndex();
  const rows: unknown[][] = [];
  const dec = new SnapshotDecoder({ jtis, sessions, row: (r) => rows.push(r) });
  for (const c of chunks) dec.push(c);
  return { head: dec.end(), jtis, sessions, rows };
}

describe("snapshot codec", () => {
  it("a checkpoint decodes to the same entries, rows and head, split anywhere", () => {
    const { snap, keys } = filled();
    const bytes = encodeSnapshot(snap);
    for (const step of [bytes.length, 997, 4096, 24 * 1000 + 3]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += step) chunks.push(bytes.subarray(at, at + step));
      const out = decode(chunks);
      expect(out.head).toEqual({ globalCutoff: NOW - 60_000, cursor: "1234", epoch: "e-1" });
      expect(out.jtis.size).toBe(3000);
      expect(out.sessions.size).toBe(500);
      for (const k of keys[0]!.slice(0, 3000)) expect(out.jtis.has(k, NOW)).toBe(true);
      for (const k of keys[1]!) expect(out.sessions.has(k, NOW)).toBe(true);
      expect(out.rows).toEqual([
        ["jti", "not-a-128-bit-id", NOW + 5000],
        ["user", "alice", NOW + 9000, { cutoff: NOW - 10, exceptSessionId: null }],
        ["jti", "key:k1", NOW + 9000],
      ]);
    }
  });

  it("the streaming encoder writes the same content in frames of at most 64 KiB", () => {
    const { snap, keys } = filled();
    const chunks: Buffer[] = [];
    const enc = new SnapshotEncoder((c) => chunks.push(Buffer.from(c)));
    enc.sizes(snap.jtis.expiresAt.length, snap.sessions.expiresAt.length);
    for (const [t, part] of [
      [0, snap.jtis],
      [1, snap.sessions],
    ] as const) {
      for (let i = 0; i < part.expiresAt.length; i++) enc.id(t, part.words, 4 * i, part.expiresAt[i]!);
    }
    for (const r of snap.rows) enc.row(r);
    enc.end(snap);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(8 + 64 * 1024);
    const out = decode(chunks);
    expect(out.head.cursor).toBe("1234");
    for (const k of keys[1]!) expect(out.sessions.has(k, NOW)).toBe(true);
    expect(out.jtis.size).toBe(3000);
  });

  it("refuses a truncated snapshot, one without its head, bytes after the head and unknown frames", () => {
    const bytes = encodeSnapshot(filled().snap);
    expect(() => decode([bytes.subarray(0, bytes.length - 1)])).toThrow("ended early");
    expect(() => decode([Buffer.concat([bytes, bytes.subarray(0, 16)])])).toThrow("after its head");
    const unknown = Buffer.alloc(8);
    unknown[0] = 9;
    expect(() => decode([unknown])).toThrow("unknown type");
    const badIds = Buffer.alloc(8 + 10);
    badIds[0] = 1;
    badIds.writeUInt32LE(10, 4);
    expect(() => decode([badIds])).toThrow("malformed");
    const badHead = Buffer.concat([Buffer.from([4, 0, 0, 0, 2, 0, 0, 0]), Buffer.from("{}")]);
    expect(() => decode([badHead])).toThrow("head is malformed");
  });
});
