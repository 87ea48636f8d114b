/**
 * Typed readers of Redis replies: one small function per reply shape, each checking what it reads, so
 * the rest of the store works with typed values. A reply of the wrong shape is a store failure
 * (`ERR_STORE_UNAVAILABLE`), never a silently wrong value.
 */
import { StoreUnavailableError } from "../../core/errors.js";

/** A string reply or a missing value (nil, an absent hash field). */
export type Cell = string | null;

function unexpected(shape: string): never {
  throw new StoreUnavailableError(`unexpected reply from redis (expected ${shape})`);
}

/** A bulk string (an integer reply is taken as its decimal text). */
export function str(reply: unknown): string {
  if (typeof reply === "string") return reply;
  if (typeof reply === "number") return String(reply);
  return unexpected("a string");
}

/** A bulk string or nil. */
export function cell(reply: unknown): Cell {
  return reply === null || reply === undefined ? null : str(reply);
}

/** An integer reply, or a string holding a number. */
export function int(reply: unknown): number {
  if (typeof reply === "number") return reply;
  if (typeof reply === "string" && reply !== "" && Number.isFinite(Number(reply))) return Number(reply);
  return unexpected("a number");
}

/** An array reply. */
export function list(reply: unknown): unknown[] {
  return Array.isArray(reply) ? reply : unexpected("an array");
}

/** An array of strings (HVALS, ZRANGE, SMEMBERS, a flat HGETALL). */
export function strings(reply: unknown): string[] {
  return list(reply).map(str);
}

/** An array of strings or nils (HMGET). */
export function cells(reply: unknown): Cell[] {
  return list(reply).map(cell);
}

/** A flat `[field, value, ...]` reply (HGETALL, ZSCAN items WITHSCORES) as pairs. */
export function pairs(reply: unknown): [string, string][] {
  const flat = strings(reply);
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] ?? "", flat[i + 1] ?? ""]);
  return out;
}

/** A fixed-length array reply (a script's tuple), at least `n` long. */
export function tuple(reply: unknown, n: number): unknown[] {
  const a = list(reply);
  return a.length >= n ? a : unexpected(`an array of ${n}`);
}

/** A ZSCAN page: the next cursor and the `[member, score]` pairs. */
export function scanPage(reply: unknown): { next: string; items: [string, string][] } {
  const [next, items] = tuple(reply, 2);
  return { next: str(next), items: pairs(items) };
}

/** One stream entry, `[id, [field, value, ...]]`. */
export interface StreamEntry {
  id: string;
  fields: [string, string][];
}

/** Stream entries (XRANGE, or one stream of an XREAD). */
export function streamEntries(reply: unknown): StreamEntry[] {
  return list(reply).map((e) => {
    const [id, fields] = tuple(e, 2);
    return { id: str(id), fields: pairs(fields) };
  });
}

/**
 * The entries of an XREAD of one stream: `[[key, entries]]` (RESP2) or `[key, entries]` (a RESP3 map,
 * flattened); nil on timeout.
 */
export function xreadEntries(reply: unknown): StreamEntry[] {
  if (reply === null || reply === undefined) return [];
  const outer = list(reply);
  if (outer.length === 0) return [];
  if (typeof outer[0] === "string") return outer[1] === undefined ? [] : streamEntries(outer[1]);
  const [, entries] = tuple(outer[0], 2);
  return entries === null || entries === undefined ? [] : streamEntries(entries);
}

/** A CONFIG GET reply for one parameter: `[name, value]` (RESP2) or `{ name: value }` (RESP3). */
export function configValue(reply: unknown, name: string): string {
  if (Array.isArray(reply)) return reply[1] === undefined ? "" : str(reply[1]);
  if (typeof reply === "object" && reply !== null) {
    const value: unknown = Object.getOwnPropertyDescriptor(reply, name)?.value;
    return value === undefined ? "" : str(value);
  }
  return unexpected("a CONFIG GET reply");
}
