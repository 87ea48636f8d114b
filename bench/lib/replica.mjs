// Section 2: the replica's index at 1,000,000 entries: bytes per entry (heap and ArrayBuffer growth,
// measured after full garbage collections) and lookup time, for the compact index (the default) and
// the Map index it replaced.
import { CompactIndex } from "../../dist/replica/compact-index.js";
import { MapIndex } from "../../dist/replica/index.js";
import { idFor, log, median } from "./common.mjs";

const ENTRIES = 1_000_000;
const PROBES = 200_000;

function memory() {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function measure(name, make, reserve) {
  const seed = name.length * 7919;
  // Probe keys are fresh strings, as a jti parsed from a token is: half present, half absent.
  const probes = [];
  for (let i = 0; i < PROBES; i++)
    probes.push(i % 2 ? idFor(seed, (i * 4999) % ENTRIES) : idFor(seed + 1, i));
  const expiresAt = Date.now() + 3_600_000;
  const before = memory();
  let index = make();
  // Keys are made on the fly and kept only by the index, as when the replica loads a snapshot.
  index.reserve?.(reserve ? ENTRIES : 0);
  for (let i = 0; i < ENTRIES; i++) index.add(idFor(seed, i), expiresAt);
  index.sweep(0, 1e9); // finishes any resize in progress; removes nothing (nothing has expired)
  const bytes = (memory() - before) / ENTRIES;
  if (index.size !== ENTRIES) throw new Error(`${name}: holds ${index.size} entries, not ${ENTRIES}`);
  const now = Date.now();
  const rounds = [];
  let hits = 0;
  for (let r = 0; r < 5; r++) {
    hits = 0;
    const start = performance.now();
    for (let i = 0; i < PROBES; i++) if (index.has(probes[i], now)) hits++;
    rounds.push(((performance.now() - start) * 1e6) / PROBES);
  }
  if (hits !== PROBES / 2) throw new Error(`${name}: ${hits} hits, expected ${PROBES / 2}`);
  index = undefined;
  return { name, bytes, lookupNs: median(rounds) };
}

export async function benchReplica() {
  if (typeof globalThis.gc !== "function") throw new Error("run with node --expose-gc (npm run bench does)");
  log("replica: 1M entries, compact index");
  // Filled one entry at a time (as the feed does), and sized up front (as a snapshot load does).
  const compact = await measure("compact", () => new CompactIndex(), false);
  const reserved = await measure("compact, reserved", () => new CompactIndex(), true);
  log("replica: 1M entries, Map index");
  const map = await measure("map", () => new MapIndex(), false);
  return { compact, reserved, map };
}
