import { type Duration, parseDuration } from "./duration.js";
import { ConfigInvalidError } from "./errors.js";

/**
 * Throws a `TypeError` when `options` has a property not in `known`: a misspelled option must not be
 * silently ignored (`accesTokenTtl: "1m"` would otherwise give 15-minute tokens). The message names
 * the closest known option when there is one.
 * @example checkOptionNames("sqliteStore", { path: "a.db", pollIntervall: 5 }, ["path", "pollInterval"])
 * // TypeError: sqliteStore: unknown option "pollIntervall" (did you mean "pollInterval"?)
 */
export function checkOptionNames(where: string, options: object, known: readonly string[]): void {
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const near = closest(name, known);
    throw new TypeError(`${where}: unknown option "${name}"${near ? ` (did you mean "${near}"?)` : ""}`);
  }
}

/** The known name nearest to `name` (case-insensitive edit distance at most 3), if any. */
function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 4;
  for (const candidate of known) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length] as number;
}

/**
 * A duration option of a store factory or of `createAuth` in milliseconds: `value` (a number of
 * seconds, or a string such as `"20ms"`, `"5s"`, `"15m"`), else `fallback` (ms). `min` is in ms.
 */
export function durationOption(
  value: Duration | undefined,
  fallbackMs: number,
  name: string,
  minMs = 0,
): number {
  if (value === undefined) return fallbackMs;
  const ms = parseDuration(value, name);
  if (ms < minMs) {
    throw new ConfigInvalidError(
      name,
      minMs === 1 ? "must be greater than zero" : `must be at least ${minMs} ms (${minMs / 1000} s)`,
    );
  }
  return ms;
}

/**
 * The issuer must be an absolute http(s) URL without query or fragment (RFC 8414 section 2). It is
 * used exactly as given: a trailing slash is part of it, in tokens and in the metadata alike.
 */
export function checkIssuer(issuer: unknown): string {
  if (typeof issuer !== "string" || issuer.length === 0)
    throw new ConfigInvalidError("issuer", "must be a non-empty string");
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ConfigInvalidError("issuer", `must be an absolute URL such as "https://auth.example.com"`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new ConfigInvalidError("issuer", "must be an https: (or, for development, http:) URL");
  if (url.search !== "" || url.hash !== "" || issuer.includes("?") || issuer.includes("#"))
    throw new ConfigInvalidError("issuer", "must not have a query or a fragment");
  if (/\s/.test(issuer)) throw new ConfigInvalidError("issuer", "must not contain spaces");
  return issuer;
}
