import { type Duration, parseDuration } from "../core/duration.js";
import { ConfigInvalidError } from "../core/errors.js";
import { type Algorithm, isAlgorithm, type KeyInput } from "../core/keys.js";
import type { Logger } from "../core/logger.js";
import { checkIssuer, checkOptionNames } from "../core/options.js";
import { STDERR_LOGGER } from "../loggers.js";
import type { RevocationIndex } from "../replica/index.js";
import type { RevocationStore } from "../stores/contract.js";
import type { AuthOptions } from "./types.js";

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
  checkpointInterval: true,
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
  store: RevocationStore;
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
  checkpointIntervalMs: number;
  failMode: "closed" | "open";
  maxTokenLength: number;
  /** The clock, ms since the epoch (`Date.now` unless given). */
  clock: () => number;
  /** Where warnings go (JSON lines on stderr unless given). */
  logger: Logger;
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
 * @example
 * resolveAuthOptions({ issuer: "https://auth.example.com", audience: "api", store }).accessTokenTtlMs; // 900000
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
    checkpointIntervalMs: positive("checkpointInterval", options.checkpointInterval, "5m", true),
    failMode,
    maxTokenLength,
    clock: options.clock ?? Date.now,
    logger: options.logger ?? STDERR_LOGGER,
    keys,
    createIndex: options.createIndex,
    verifyCacheSize: cacheSize === false ? 0 : cacheSize,
    maxSessionsPerUser,
    tokenStatus: options.tokenStatus,
  };
}

/** Whether `value` looks like a store (the two methods every store has and nothing else does). */
function isStore(value: unknown): value is RevocationStore {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as RevocationStore).open === "function" &&
    typeof (value as RevocationStore).changes === "function"
  );
}
