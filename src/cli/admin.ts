/**
 * How admin commands reach the store: the `--store` flags, and opening an existing store with an
 * `Auth` on it for one command.
 */
import { type Auth, createAuth } from "../auth.js";
import { errorText } from "../core/error-text.js";
import { StoreMissingError } from "../core/errors.js";
import type { Algorithm } from "../core/keys.js";
import type { Logger } from "../core/logger.js";
import type { UserRecord } from "../core/model.js";
import { SILENT_LOGGER } from "../loggers.js";
import type { AccountStore, Store } from "../stores/contract.js";
import { DEFAULT_STORE_URL, parseStoreUrl, redactStoreUrl, storeFromUrl } from "../stores/url.js";
import { algorithmFlag, durationFlag, type Flag, type Flags, optional, type Parsed } from "./args.js";
import { CliError, firstLine, usage } from "./errors.js";

/** The `--store` URL (default {@link DEFAULT_STORE_URL}); a malformed one is a usage error. */
export function storeUrlFlag(parsed: Parsed): string {
  const url = optional(parsed, "store") ?? DEFAULT_STORE_URL;
  try {
    parseStoreUrl(url);
  } catch (error) {
    throw usage(`--${firstLine(error)}`);
  }
  return url;
}

/** `--store`: the store URL (`serve` and every admin command). */
export const STORE_FLAG: Flag = {
  type: "string",
  env: "REVOKIT_STORE",
  default: DEFAULT_STORE_URL,
  value: "URL",
  help: "sqlite:PATH, redis://...[?prefix=P], postgres://...[?schema=S] or memory:",
};

/**
 * Flags every admin command shares with `serve`: which store, and the token settings that decide how
 * long a revocation must be remembered. Set them (or their environment variables) as for `serve`.
 */
export const STORE_FLAGS: Flags = {
  store: STORE_FLAG,
  algorithm: {
    type: "string",
    env: "REVOKIT_ALGORITHM",
    value: "ALG",
    help: "signing algorithm: EdDSA, ES256, RS256 or HS256 (default: that of the newest stored key, else RS256)",
  },
  "access-token-ttl": {
    type: "string",
    env: "REVOKIT_ACCESS_TOKEN_TTL",
    default: "15m",
    value: "DURATION",
    help: "access-token life; revocations are kept this long",
  },
};

/** Writes an `Auth` warning as one line on stderr. */
const cliLogger: Logger = {
  warn: (_obj, msg) => process.stderr.write(`revokit: warning: ${msg ?? "warning"}\n`),
  error: (_obj, msg) => process.stderr.write(`revokit: error: ${msg ?? "error"}\n`),
};

/** What an admin command works on: the store it opened, and the `Auth` created on that store. */
export interface Admin {
  /** Revocations, sessions, keys. */
  auth: Auth;
  /** The store itself, for what is not the `Auth`'s: the server's users and clients, the event outbox. */
  store: Store;
}

/**
 * Opens the store of `--store` and an `Auth` on it for one admin command. Only an existing, initialised store
 * is opened (a mistyped path or prefix, or `memory:`, fails and creates nothing: `serve` and `init`
 * create stores). Background purging is off, the algorithm defaults to that of the newest stored key
 * (so no stray key is created), and every stored algorithm is accepted (so `revoke --token` takes any
 * token the store's keys signed).
 */
export async function openAdmin(parsed: Parsed): Promise<Admin> {
  const url = storeUrlFlag(parsed);
  if (parseStoreUrl(url).kind === "memory") {
    throw usage("--store memory: is a new, empty store in every process: give the store your server uses");
  }
  const accessTokenTtl = durationFlag(parsed, "access-token-ttl");
  const flagAlg = algorithmFlag(parsed);
  // Start-up advice about the store (Redis persistence off, ...) is for the servers' logs, where
  // `serve` prints it; an admin command prints its result or one error line.
  const store = await storeFromUrl(url, { logger: SILENT_LOGGER });
  try {
    try {
      await store.open({ create: false });
    } catch (error) {
      if (error instanceof StoreMissingError) {
        throw new CliError(
          `${error.message}; nothing was created (create it with: revokit init --store ${redactStoreUrl(url)})`,
        );
      }
      throw error;
    }
    const keys = await store.listKeys();
    const algorithm = flagAlg ?? keys.at(-1)?.alg ?? "RS256";
    const algorithms = [...new Set<Algorithm>([algorithm, ...keys.map((k) => k.alg)])];
    const auth = await createAuth({
      issuer: process.env.REVOKIT_ISSUER || "http://127.0.0.1:3000",
      audience: process.env.REVOKIT_AUDIENCE || "api",
      store,
      algorithm,
      algorithms,
      accessTokenTtl,
      purgeInterval: 0,
      logger: cliLogger,
    });
    return { auth, store };
  } catch (error) {
    await store
      .close()
      .catch((closeError: unknown) =>
        cliLogger.warn({}, `closing the store failed: ${errorText(closeError)}`),
      );
    throw error;
  }
}

/**
 * Runs `fn` with an {@link Admin} and closes it afterwards, whatever happens (closing the `Auth`
 * closes its store).
 * @example
 * return withAdmin(parsed, async ({ auth, store }) => { ... });
 */
export async function withAdmin<T>(parsed: Parsed, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = await openAdmin(parsed);
  try {
    return await fn(admin);
  } finally {
    await admin.auth.close();
  }
}

/** A user by name (case-insensitive), or by id; a `CliError` when there is none. */
export async function findUser(store: AccountStore, nameOrId: string): Promise<UserRecord> {
  const user = (await store.getUserByName(nameOrId.toLowerCase())) ?? (await store.getUser(nameOrId));
  if (!user) throw new CliError(`no such user: ${nameOrId}`);
  return user;
}
