import type { AuthOptions } from "../auth.js";
import type { RevocationIndex } from "../replica/index.js";
import type { Store } from "../stores/contract.js";
import { type Duration, parseDuration } from "./duration.js";
import { ConfigInvalidError } from "./errors.js";
import { type Algorithm, isAlgorithm, type KeyInput } from "./keys.js";
import type { Logger } from "./logger.js";

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

/** Every option of `createAuth`; the compiler checks this list against `AuthOptions`. */
const AUTH_OPTION_NAMES = Object.keys({
  issuer: true,
  audience: true,
  store: true,
  accessTokenTtl: true,
  refreshTokenTtl: true,
  refreshIdleTtl: true,
  refreshGrace: true,
  algorithm: true,
  algorithms: true,
  keys: true,
  maxStaleness: true,
  failMode: true,
  clockTolerance: true,
  maxTokenLength: true,
  keyRefreshInterval: true,
  purgeInterval: true,
  clock: true,
  logger: true,
  createIndex: true,
  verifyCache: true,
  keyPublicationLead: true,
  maxSessionsPerUser: true,
  tokenStatus: true,
} satisfies Record<keyof AuthOptions, true>);

/** `createAuth`'s options checked, with defaults filled in and every duration in milliseconds. */
export interface ResolvedAuthOptions {
  issuer: string;
  audience: string;
  store: Store;
  algorithm: Algorithm;
  algorithms: ReadonlySet<Algorithm>;
  accessTokenTtlMs: number;
  refreshTokenTtlMs: number;
  refreshIdleTtlMs: number;
  refreshGraceMs: number;
  maxStalenessMs: number;
  clockToleranceMs: number;
  keyRefreshIntervalMs: number;
  /** How long a new key is published before it signs. */
  keyPublicationLeadMs: number;
  /** 0: no background purge. */
  purgeIntervalMs: number;
  failMode: "closed" | "open";
  maxTokenLength: number;
  clock: (() => number) | undefined;
  logger: Logger | undefined;
  keys: KeyInput[];
  createIndex: (() => RevocationIndex) | undefined;
  /** 0: no verified-token cache. */
  verifyCacheSize: number;
  /** Live sessions a user may hold; past it the oldest ends. */
  maxSessionsPerUser: number;
  tokenStatus: AuthOptions["tokenStatus"];
}

/**
 * Checks `createAuth`'s options and resolves their defaults. Pure: no I/O, no clock. An unknown option
 * name is a `TypeError`; a bad value is a `ConfigInvalidError` naming the option.
 */
export function resolveAuthOptions(options: AuthOptions): ResolvedAuthOptions {
  if (typeof options !== "object" || options === null)
    throw new ConfigInvalidError("options", "must be an object");
  checkOptionNames("createAuth", options, AUTH_OPTION_NAMES);
  const issuer = checkIssuer(options.issuer);
  const audience = options.audience;
  if (typeof audience !== "string" || audience.length === 0)
    throw new ConfigInvalidError("audience", "must be a non-empty string");
  if (!isStore(options.store)) {
    throw new ConfigInvalidError(
      "store",
      "is required: memoryStore(), sqliteStore(), redisStore() or postgresStore()",
    );
  }
  const algorithm = options.algorithm ?? "RS256";
  if (!isAlgorithm(algorithm))
    throw new ConfigInvalidError("algorithm", "must be EdDSA, ES256, RS256 or HS256");
  const algs = options.algorithms ?? [algorithm];
  if (!Array.isArray(algs) || algs.length === 0 || !algs.every(isAlgorithm) || !algs.includes(algorithm)) {
    throw new ConfigInvalidError("algorithms", "must list supported algorithms and include `algorithm`");
  }
  const positive = (
    name: keyof AuthOptions,
    value: Duration | undefined,
    fallback: Duration,
    zero = false,
  ) => {
    const ms = parseDuration(value ?? fallback, name);
    if (!zero && ms <= 0) throw new ConfigInvalidError(name, "must be greater than zero");
    return ms;
  };
  const accessTokenTtlMs = positive("accessTokenTtl", options.accessTokenTtl, "15m");
  if (accessTokenTtlMs < 1000) throw new ConfigInvalidError("accessTokenTtl", "must be at least 1s");
  const failMode = options.failMode ?? "closed";
  if (failMode !== "closed" && failMode !== "open")
    throw new ConfigInvalidError("failMode", 'must be "closed" or "open"');
  const maxTokenLength = options.maxTokenLength ?? 8192;
  if (!Number.isInteger(maxTokenLength) || maxTokenLength < 256)
    throw new ConfigInvalidError("maxTokenLength", "must be an integer of at least 256");
  if (options.clock !== undefined && typeof options.clock !== "function")
    throw new ConfigInvalidError("clock", "must be a function returning milliseconds");
  const keys = options.keys ?? [];
  if (!Array.isArray(keys)) throw new ConfigInvalidError("keys", "must be an array");
  const maxSessionsPerUser = options.maxSessionsPerUser ?? 100;
  if (!Number.isInteger(maxSessionsPerUser) || maxSessionsPerUser < 1)
    throw new ConfigInvalidError("maxSessionsPerUser", "must be an integer of at least 1");
  if (options.tokenStatus !== undefined && typeof options.tokenStatus !== "function")
    throw new ConfigInvalidError("tokenStatus", "must be a function");
  const cacheSize = options.verifyCache ?? 10_000;
  if (cacheSize !== false && (!Number.isInteger(cacheSize) || cacheSize < 0))
    throw new ConfigInvalidError("verifyCache", "must be a number of entries (0 or more) or false");
  return {
    issuer,
    audience,
    store: options.store,
    algorithm,
    algorithms: new Set(algs),
    accessTokenTtlMs,
    refreshTokenTtlMs: positive("refreshTokenTtl", options.refreshTokenTtl, "30d"),
    refreshIdleTtlMs: positive("refreshIdleTtl", options.refreshIdleTtl, "7d"),
    refreshGraceMs: positive("refreshGrace", options.refreshGrace, "10s", true),
    maxStalenessMs: positive("maxStaleness", options.maxStaleness, "1s"),
    clockToleranceMs: positive("clockTolerance", options.clockTolerance, "5s", true),
    keyRefreshIntervalMs: positive("keyRefreshInterval", options.keyRefreshInterval, "5s"),
    keyPublicationLeadMs: positive("keyPublicationLead", options.keyPublicationLead, "10m", true),
    purgeIntervalMs: positive("purgeInterval", options.purgeInterval, "1m", true),
    failMode,
    maxTokenLength,
    clock: options.clock,
    logger: options.logger,
    keys,
    createIndex: options.createIndex,
    verifyCacheSize: cacheSize === false ? 0 : cacheSize,
    maxSessionsPerUser,
    tokenStatus: options.tokenStatus,
  };
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

function isStore(value: unknown): value is Store {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Store).open === "function" &&
    typeof (value as Store).changes === "function"
  );
}
