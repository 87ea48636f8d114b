import { ConfigInvalidError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { checkOptionNames } from "../core/options.js";
import type { Store } from "./contract.js";
import { memoryStore } from "./memory/index.js";

/**
 * One way to name a store, shared by the library, the server and the CLI: the same URL always means
 * the same data. Drivers are loaded only when their kind is used, so importing `revokit` loads none.
 */

/** The store the server and the CLI use when none is given. */
export const DEFAULT_STORE_URL = "sqlite:./data/revokit.db";

/** What a `--store` value names. */
export type StoreSpec =
  | { kind: "sqlite"; path: string }
  /** `prefix`: the `?prefix=` query parameter (key prefix), removed from `url`. */
  | { kind: "redis"; url: string; prefix?: string }
  /** `schema`: the `?schema=` query parameter, removed from `url`. */
  | { kind: "postgres"; url: string; schema?: string }
  | { kind: "memory" };

/**
 * Parses a `--store` value: `sqlite:PATH` (also `sqlite://PATH`), `redis://` / `rediss://` (with an
 * optional `?prefix=` for the key prefix), `postgres://` / `postgresql://` (with an optional
 * `?schema=`), or `memory:`. Throws `ConfigInvalidError` (option `store`) otherwise.
 * @example parseStoreUrl("sqlite:./data/revokit.db") // { kind: "sqlite", path: "./data/revokit.db" }
 */
export function parseStoreUrl(value: string): StoreSpec {
  const text = value.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();
  switch (scheme) {
    case "sqlite": {
      let path = text.slice("sqlite:".length);
      if (path.startsWith("//")) path = path.slice(2);
      if (path.length === 0)
        throw new ConfigInvalidError("store", "sqlite: needs a file path, e.g. sqlite:./data/revokit.db");
      return { kind: "sqlite", path };
    }
    case "redis":
    case "rediss": {
      const { url, param } = withoutParam(checkedUrl(text), "prefix");
      return param === undefined ? { kind: "redis", url } : { kind: "redis", url, prefix: param };
    }
    case "postgres":
    case "postgresql": {
      const { url, param } = withoutParam(checkedUrl(text), "schema");
      return param === undefined ? { kind: "postgres", url } : { kind: "postgres", url, schema: param };
    }
    case "memory":
      if (text.length > "memory:".length) throw new ConfigInvalidError("store", "memory: takes no argument");
      return { kind: "memory" };
    default:
      throw new ConfigInvalidError(
        "store",
        "must be sqlite:PATH, redis://..., rediss://..., postgres://..., postgresql://... or memory:",
      );
  }
}

function checkedUrl(text: string): string {
  if (!URL.canParse(text)) throw new ConfigInvalidError("store", "is not a valid URL");
  if (/\s/.test(text)) throw new ConfigInvalidError("store", "is not a valid URL (it contains a space)");
  return text;
}

/** Takes our own query parameter out of a driver URL (the driver would not understand it). */
function withoutParam(text: string, name: string): { url: string; param?: string } {
  const url = new URL(text);
  const param = url.searchParams.get(name);
  if (param === null) return { url: text };
  if (param === "") throw new ConfigInvalidError("store", `?${name}= needs a value`);
  url.searchParams.delete(name);
  return { url: url.toString(), param };
}

/** A store URL with its password replaced, fit for logs and status output. */
export function redactStoreUrl(value: string): string {
  try {
    const spec = parseStoreUrl(value);
    if (spec.kind !== "redis" && spec.kind !== "postgres") return value.trim();
    const url = new URL(spec.url);
    if (url.password) url.password = "***";
    for (const key of [...url.searchParams.keys()]) {
      if (/pass|secret|key|token/i.test(key)) url.searchParams.set(key, "***");
    }
    return url.toString();
  } catch {
    return "(invalid store URL)";
  }
}

function isMissingModule(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
}

function missingDriver(kind: string, pkg: string, error: unknown): ConfigInvalidError {
  const e = new ConfigInvalidError(
    "store",
    `the ${kind} store needs the "${pkg}" package: npm install ${pkg}`,
  );
  (e as { cause?: unknown }).cause = error;
  return e;
}

/** Options of {@link storeFromUrl}. */
export interface StoreFromUrlOptions {
  /** Where start-up warnings go (Redis persistence off, ...). Default: JSON lines on stderr. */
  logger?: Logger;
}

/**
 * Creates the store a URL names, with the same meaning in the library, the server (`--store`) and the
 * CLI: `sqlite:PATH` (relative to the working directory), `redis://` or `rediss://` with an optional
 * `?prefix=` (the key prefix), `postgres://` or `postgresql://` with an optional `?schema=`, and
 * `memory:`. The store is not opened yet: `createAuth` opens it (creating it if needed), and
 * `store.open({ create: false })` opens only an existing one. The driver (`better-sqlite3`, `ioredis`,
 * `pg`) is imported only for its kind; a missing one is a clear `ERR_CONFIG_INVALID`.
 * @example
 * import { createAuth, storeFromUrl } from "revokit";
 * const store = await storeFromUrl(process.env.REVOKIT_STORE ?? "sqlite:./data/revokit.db");
 * const auth = await createAuth({ issuer: "https://auth.example.com", audience: "api", store });
 */
export async function storeFromUrl(value: string, options: StoreFromUrlOptions = {}): Promise<Store> {
  if (typeof value !== "string") throw new TypeError("storeFromUrl: the URL must be a string");
  if (typeof options !== "object" || options === null)
    throw new TypeError("storeFromUrl: options must be an object");
  checkOptionNames("storeFromUrl", options, ["logger"]);
  const spec = parseStoreUrl(value);
  switch (spec.kind) {
    case "memory":
      return memoryStore();
    case "sqlite": {
      const path = spec.path;
      let mod: typeof import("./sqlite/index.js");
      try {
        mod = await import("./sqlite/index.js");
      } catch (error) {
        if (isMissingModule(error)) throw missingDriver("sqlite", "better-sqlite3", error);
        throw error;
      }
      return mod.sqliteStore({ path, ...(options.logger ? { logger: options.logger } : {}) });
    }
    case "redis": {
      let mod: typeof import("./redis/index.js");
      try {
        mod = await import("./redis/index.js");
      } catch (error) {
        if (isMissingModule(error)) throw missingDriver("redis", "ioredis", error);
        throw error;
      }
      return mod.redisStore(
        { url: spec.url },
        {
          ...(options.logger ? { logger: options.logger } : {}),
          ...(spec.prefix ? { prefix: spec.prefix } : {}),
        },
      );
    }
    case "postgres": {
      let mod: typeof import("./postgres/index.js");
      try {
        mod = await import("./postgres/index.js");
      } catch (error) {
        if (isMissingModule(error)) throw missingDriver("postgres", "pg", error);
        throw error;
      }
      return mod.postgresStore({
        url: spec.url,
        ...(options.logger ? { logger: options.logger } : {}),
        ...(spec.schema ? { schema: spec.schema } : {}),
      });
    }
  }
}
