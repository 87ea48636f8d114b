import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CompactIndex, idWords, type SlotHash } from "../../src/replica/compact-index.js";
import { MapIndex } from "../../src/replica/index.js";
import { Replica } from "../../src/replica/replica.js";
import { memoryStore } from "../../src/stores/memory/index.js";

/** A jti / session id as revokit makes them: 128 random bits, 22 base64url characters. */
const id = () => randomBytes(16).toString("base64url");
const fromBytes = (b: Uint8Array) => Buffer.from(b).toString("base64url");

/** Hashes that force collisions: every key in one cluster, a cluster wrapping the table end, few clusters. */
const FORCED: Record<string, SlotHash> = {
  "all in slot 0": () => 0,
  "all in the last slot (wraps)": () => 0xffffffff,
  "both ends (clusters cross the end)": (w0) => (w0 & 1 ? 0xffffffff : (w0 & 2) * 0x1000000),
  "8 clusters": (w0) => (w0 & 7) * 0x20000000,
  "words 1-3 only": (_w0, w1, w2, w3) => (w1 ^ w2 ^ w3) >>> 0,
  // One cluster whose slots carry different tags (the low 8 bits), some equal: deletion must move tags along.
  "one cluster, tags vary": (w0) => w0 & 0x0f,
};

describe("CompactIndex", () => {
  it("answers exactly on the millisecond of expiry and keeps the later expiry", () => {
    const index = new CompactIndex();
    const k = id();
    index.add(k, 10_000);
    expect(index.has(k, 9_999)).toBe(true);
    expect(index.has(k, 10_000)).toBe(false);
    index.add(k, 5_000); // earlier: ignored
    expect(index.has(k, 9_999)).toBe(true);
    index.add(k, 20_000.5); // later: kept, fractions too
    expect(index.has(k, 20_000)).toBe(true);
    expect(index.has(k, 20_000.5)).toBe(false);
    expect(index.size).toBe(1);
    expect(index.has(id(), 0)).toBe(false);
  });

  it("keeps every other kind of key exactly (side map): short, long, non-canonical, non-ASCII", () => {
    const index = new CompactIndex();
    const canonical = id();
    // Same 22 characters but the last one has low bits set: not a canonical 16-byte encoding.
    const last = canonical.charCodeAt(21);
    const nonCanonical = `${canonical.slice(0, 21)}${last === 66 ? "C" : "B"}`;
    const keys = [
      "a",
      "",
      "3fa85f64-5717-4562-b3fc-2c963f66afa6",
      `${canonical}x`,
      nonCanonical,
      `${canonical.slice(0, 21)}\u0141`, // Ł: code unit 0x141, whose low byte is "A"
      "é".repeat(22),
      "+/+/+/+/+/+/+/+/+/+/+A", // standard (not URL-safe) alphabet
    ];
    for (const [i, k] of keys.entries()) index.add(k, 1000 + i);
    for (const [i, k] of keys.entries()) {
      expect(index.has(k, 999 + i)).toBe(true);
      expect(index.has(k, 1000 + i)).toBe(false);
    }
    expect(index.has(canonical, 0)).toBe(false);
    expect(index.size).toBe(keys.length);
    // A canonical key and its look-alikes are different keys.
    const aliased = new CompactIndex();
    const canonicalA = `${canonical.slice(0, 21)}A`;
    aliased.add(canonicalA, 50);
    expect(aliased.has(canonicalA, 0)).toBe(true);
    for (const k of keys) expect(aliased.has(k, 0)).toBe(false);
  });

  it("ignores entries that expire at or before the epoch (they cover nothing)", () => {
    const index = new CompactIndex();
    index.add(id(), 0);
    index.add(id(), -5);
    index.add(id(), Number.NaN);
    expect(index.size).toBe(0);
  });

  describe.each(Object.entries(FORCED))("with forced hash collisions (%s)", (_name, hash) => {
    it("a collision never revokes a valid key nor un-revokes a revoked one", () => {
      const index = new CompactIndex({ hash, initialCapacity: 16 });
      // Keys that differ from each other in a single bit of a single word.
      const base = randomBytes(16);
      const variants = [fromBytes(base)];
      for (let bit = 0; bit < 128; bit += 9) {
        const b = Buffer.from(base);
        b[bit >> 3]! ^= 1 << (bit & 7);
        variants.push(fromBytes(b));
      }
      const revoked = variants.filter((_, i) => i % 2 === 0);
      const valid = variants.filter((_, i) => i % 2 === 1);
      for (const k of revoked) index.add(k, 5000);
      for (const k of revoked) expect(index.has(k, 1000)).toBe(true);
      for (const k of valid) expect(index.has(k, 1000)).toBe(false);
      // Expire half of the revoked keys and sweep: deletion shifts entries, none may be lost.
      const stay = revoked.filter((_, i) => i % 2 === 0);
      for (const k of stay) index.add(k, 9000);
      while (index.sweep(6000, 3) > 0);
      index.sweep(6000, 1000);
      expect(index.size).toBe(stay.length);
      for (const k of stay) expect(index.has(k, 6000)).toBe(true);
      for (const k of variants.filter((k) => !stay.includes(k))) expect(index.has(k, 6000)).toBe(false);
    });
  });

  it("deletion across the end of the table keeps every other entry reachable", () => {
    // Character 4 sets the low bits of the first word: "B" sends a key to the last slot, "A" to slot 0.
    const hash = FORCED["both ends (clusters cross the end)"]!;
    const key = (c4: "A" | "B") => `${id().slice(0, 4)}${c4}${id().slice(5)}`;
    for (const order of [
      ["B", "A", "B", "A", "A"],
      ["B", "B", "A", "B", "A"],
      ["B", "A", "A", "B", "B"],
    ] as const) {
      for (let victim = 0; victim < order.length; victim++) {
        const index = new CompactIndex({ hash, initialCapacity: 16 });
        const keys = order.map(key);
        for (const [i, k] of keys.entries()) index.add(k, i === victim ? 10 : 100);
        expect(index.sweep(50, 1000)).toBe(1);
        for (const [i, k] of keys.entries()) expect(index.has(k, 50)).toBe(i !== victim);
      }
    }
  });

  it("matches a Map-based model on random operations (property, forced collisions, growth)", () => {
    const compactKey = fc.uint8Array({ minLength: 16, maxLength: 16 }).map(fromBytes);
    const otherKey = fc.oneof(fc.string({ maxLength: 30 }), fc.uuid());
    const op = fc.oneof(
      fc.record({ t: fc.constant("add" as const), k: fc.nat(), exp: fc.integer({ min: -10, max: 400 }) }),
      fc.record({ t: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 60 }) }),
      fc.record({ t: fc.constant("sweep" as const), budget: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ t: fc.constant("clear" as const) }),
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.oneof({ weight: 4, arbitrary: compactKey }, { weight: 1, arbitrary: otherKey }), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.array(op, { maxLength: 250 }),
        fc.constantFrom(undefined, ...Object.values(FORCED)),
        (keys, ops, hash) => {
          const index = new CompactIndex({ hash, initialCapacity: 16 });
          const model = new Map<string, number>();
          let now = 1000;
          for (const o of ops) {
            if (o.t === "add") {
              const k = keys[o.k % keys.length]!;
              const exp = o.exp <= -10 ? 0 : now + o.exp;
              index.add(k, exp);
              if (exp > 0 && (model.get(k) ?? Number.NEGATIVE_INFINITY) < exp) model.set(k, exp);
            } else if (o.t === "tick") {
              now += o.ms;
            } else if (o.t === "sweep") {
              const removed = index.sweep(now, o.budget);
              expect(removed).toBeLessThanOrEqual(Math.max(o.budget, 0));
            } else {
              index.clear();
              model.clear();
            }
            for (const k of keys) expect(index.has(k, now)).toBe((model.get(k) ?? 0) > now);
            const live = [...model.values()].filter((e) => e > now).length;
            expect(index.size).toBeGreaterThanOrEqual(live);
            expect(index.size).toBeLessThanOrEqual(model.size);
          }
          // A sweep with an unbounded budget leaves exactly the unexpired entries.
          index.sweep(now, Number.POSITIVE_INFINITY);
          expect(index.size).toBe([...model.values()].filter((e) => e > now).length);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("grows through incremental resizes without losing or inventing an entry", () => {
    const index = new CompactIndex({ initialCapacity: 16 });
    const keys: string[] = [];
    const exp = new Map<string, number>();
    let resizes = 0;
    let lastBytes = index.tableBytes;
    let sawTwoTables = false;
    for (let i = 0; i < 30_000; i++) {
      const k = id();
      keys.push(k);
      const e = 2000 + (i % 1000);
      exp.set(k, e);
      index.add(k, e);
      const bytes = index.tableBytes;
      if (bytes !== lastBytes) {
        resizes++;
        lastBytes = bytes;
      }
      // Two tables at once: old + new = 1 + 1.5 times the old size.
      if (bytes > 24 * 16 && index.size * 24 * 1.25 * 2 < bytes) sawTwoTables = true;
      if (i % 97 === 0) {
        // Spot checks during a resize: a recent key, an old key, an absent key.
        const old = keys[(i * 7919) % keys.length]!;
        expect(index.has(k, 1000)).toBe(true);
        expect(index.has(old, 1000)).toBe(true);
        expect(index.has(id(), 1000)).toBe(false);
        // Sweeps at a time when nothing has expired remove nothing, during a resize too.
        expect(index.sweep(1000, 50)).toBe(0);
      }
    }
    expect(resizes).toBeGreaterThan(10);
    expect(sawTwoTables).toBe(true);
    for (const k of keys) expect(index.has(k, 1000)).toBe(true);
    expect(index.size).toBe(keys.length);
    // Everything expiring at or before 2500 goes, the rest stays, whatever the sweep budget.
    const expiring = keys.filter((k) => exp.get(k)! <= 2500).length;
    expect(expiring).toBe(15_030);
    let removed = 0;
    for (let n = 0; n < 10_000 && removed < expiring; n++) removed += index.sweep(2500, 777);
    expect(removed).toBe(expiring);
    expect(index.sweep(2500, 1e9)).toBe(0);
    for (const k of keys) expect(index.has(k, 2500)).toBe(exp.get(k)! > 2500);
    expect(index.size).toBe(keys.length - expiring);
    // Bytes per entry stay within the budget of SPEC section 7 (48), here well under.
    expect(index.tableBytes / (30_000 / 1.0)).toBeLessThanOrEqual(48);
  });

  it("reserve sizes an empty index once, so loading a snapshot never resizes", () => {
    const index = new CompactIndex({ initialCapacity: 16 });
    index.reserve(5000);
    const bytes = index.tableBytes;
    expect(bytes).toBeGreaterThanOrEqual((5000 / 0.8) * 24);
    expect(bytes / 5000).toBeLessThanOrEqual(48);
    const keys = Array.from({ length: 5000 }, id);
    for (const k of keys) index.add(k, 100);
    expect(index.tableBytes).toBe(bytes);
    for (const k of keys) expect(index.has(k, 50)).toBe(true);
    // On an index that holds entries, reserve changes nothing (growth stays incremental).
    index.reserve(1_000_000);
    expect(index.tableBytes).toBe(bytes);
    expect(index.size).toBe(5000);
  });

  it("a sweep removes at most its budget and resumes where it stopped", () => {
    const index = new CompactIndex({ initialCapacity: 64 });
    for (let i = 0; i < 40; i++) index.add(id(), 10);
    expect(index.sweep(100, 0)).toBe(0);
    let total = 0;
    for (let i = 0; i < 3; i++) {
      const removed = index.sweep(100, 5);
      expect(removed).toBeLessThanOrEqual(5);
      total += removed;
    }
    expect(index.size).toBe(40 - total);
    for (let i = 0; i < 100 && index.size > 0; i++) index.sweep(100, 5);
    expect(index.size).toBe(0);
  });

  it("behaves like MapIndex for the same workload (the index it replaces)", () => {
    const compact = new CompactIndex({ initialCapacity: 16 });
    const map = new MapIndex();
    const keys = Array.from({ length: 2000 }, (_, i) => (i % 10 === 0 ? `jti-${i}` : id()));
    keys.forEach((k, i) => {
      compact.add(k, 1000 + i);
      map.add(k, 1000 + i);
    });
    for (const now of [0, 1500, 2500, 3000]) {
      compact.sweep(now, 1e9);
      map.sweep(now, 1e9);
      expect(compact.size).toBe(map.size);
      for (const k of keys) expect(compact.has(k, now)).toBe(map.has(k, now));
    }
  });

  it("is the replica's default index", () => {
    const replica = new Replica(memoryStore(), { now: () => 0, maxStalenessMs: 1000 });
    expect(replica.jtis).toBeInstanceOf(CompactIndex);
    expect(replica.sessions).toBeInstanceOf(CompactIndex);
  });

  it("idWords encodes exactly the ids the table stores, and nothing else", () => {
    const out = new Uint32Array(8).fill(7);
    const k = id();
    expect(idWords(k, out, 4)).toBe(true);
    expect([...out.subarray(0, 4)]).toEqual([7, 7, 7, 7]);
    const other = new Uint32Array(4);
    expect(idWords(id(), other)).toBe(true);
    expect([...other]).not.toEqual([...out.subarray(4)]);
    for (const bad of ["short", `${k.slice(0, 21)}B`, `${k.slice(0, 21)}=`, "key:kid-1", `${k}x`]) {
      const none = new Uint32Array(4).fill(9);
      expect(idWords(bad, none)).toBe(false);
      expect([...none]).toEqual([9, 9, 9, 9]); // nothing written
    }
  });

  it("exportWords then addWords rebuilds the same index: active entries only, side-map keys apart", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 1, max: 100 })),
          {
            maxLength: 300,
          },
        ),
        fc.array(fc.tuple(fc.string({ maxLength: 30 }), fc.integer({ min: 1, max: 100 })), { maxLength: 20 }),
        fc.integer({ min: 0, max: 100 }),
        (ids, others, now) => {
          // A small start, so the export also runs while a resize is half done.
          const source = new CompactIndex({ initialCapacity: 16 });
          for (const [bytes, exp] of ids) source.add(fromBytes(bytes), exp);
          for (const [key, exp] of others) source.add(key, exp);
          const exported = source.exportWords(now);
          expect(exported.words.length).toBe(4 * exported.expiresAt.length);
          const copy = new CompactIndex();
          for (let i = 0; i < exported.expiresAt.length; i++) {
            const w = exported.words;
            copy.addWords(w[4 * i]!, w[4 * i + 1]!, w[4 * i + 2]!, w[4 * i + 3]!, exported.expiresAt[i]!);
            expect(exported.expiresAt[i]!).toBeGreaterThan(now);
          }
          for (const [key, exp] of exported.others) copy.add(key, exp);
          for (const [key] of [...ids.map(([b, e]) => [fromBytes(b), e] as const), ...others]) {
            for (const at of [now, now + 1, now + 50, 101])
              expect(copy.has(key, at), `${key} at ${at}`).toBe(source.has(key, at));
          }
          expect(copy.has(id(), now)).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("addWords stores under the same key as add (words from idWords)", () => {
    const index = new CompactIndex({ initialCapacity: 16 });
    const keys = Array.from({ length: 5000 }, id);
    const w = new Uint32Array(4);
    for (const [i, k] of keys.entries()) {
      expect(idWords(k, w)).toBe(true);
      index.addWords(w[0]!, w[1]!, w[2]!, w[3]!, 1000 + i);
    }
    index.add(keys[0]!, 5); // earlier expiry: the later one stays
    expect(index.size).toBe(5000);
    for (const [i, k] of keys.entries()) {
      expect(index.has(k, 999 + i)).toBe(true);
      expect(index.has(k, 1000 + i)).toBe(false);
    }
    index.addWords(1, 2, 3, 4, 0); // no expiry: ignored, as add does
    expect(index.size).toBe(5000);
  });
});
