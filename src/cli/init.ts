import { createAuth } from "../auth.js";
import { StoreMissingError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { SILENT_LOGGER } from "../loggers.js";
import { parseStoreUrl, redactStoreUrl, storeFromUrl } from "../stores/url.js";
import { STORE_FLAG, storeUrlFlag } from "./admin.js";
import { algorithmFlag, commandHelp, type Flags, parseCommand } from "./args.js";
import { usage } from "./errors.js";
import { out } from "./output.js";

const FLAGS: Flags = {
  store: STORE_FLAG,
  algorithm: {
    type: "string",
    env: "REVOKIT_ALGORITHM",
    default: "RS256",
    value: "ALG",
    help: "algorithm of the first signing key: RS256, ES256, EdDSA or HS256",
  },
};

/** Help of `init`. */
export const INIT_HELP = commandHelp(
  `Usage: revokit init [--store URL] [options]

Creates the store (the SQLite file and its folder, the PostgreSQL schema, the Redis keys under the
prefix) with its first signing key, so admin commands can run before the first "serve". Running it
on an existing store changes nothing. "serve" also creates its store; no other command does.

`,
  FLAGS,
);

const quiet: Logger = {
  warn: (_obj, msg) => process.stderr.write(`revokit: warning: ${msg}\n`),
  error: (_obj, msg) => process.stderr.write(`revokit: error: ${msg}\n`),
};

/** `revokit init`. */
export async function init(args: string[]): Promise<number> {
  const parsed = parseCommand(args, FLAGS, INIT_HELP);
  if (!parsed) return 0;
  if (parsed.positionals.length > 0)
    throw usage(`init takes no arguments, got ${JSON.stringify(parsed.positionals[0])}`);
  const url = storeUrlFlag(parsed);
  if (parseStoreUrl(url).kind === "memory") {
    throw usage("--store memory: lives only inside one process: there is nothing to initialise");
  }
  const algorithm = algorithmFlag(parsed);
  const shown = redactStoreUrl(url);
  const probe = await storeFromUrl(url, { logger: SILENT_LOGGER });
  try {
    await probe.open({ create: false });
    out(`the store at ${shown} already exists: nothing changed`);
    return 0;
  } catch (error) {
    if (!(error instanceof StoreMissingError)) throw error;
  } finally {
    await probe.close();
  }
  const auth = await createAuth({
    issuer: "http://127.0.0.1:3000",
    audience: "api",
    store: await storeFromUrl(url, { logger: quiet }),
    ...(algorithm ? { algorithm } : {}),
    purgeInterval: 0,
    logger: quiet,
  });
  await auth.close();
  out(`created the store at ${shown}`);
  return 0;
}
