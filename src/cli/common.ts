import { parseArgs } from "node:util";
import { type Auth, createAuth } from "../auth.js";
import { parseDuration } from "../core/duration.js";
import { AuthError, StoreMissingError } from "../core/errors.js";
import { type Algorithm, isAlgorithm } from "../core/keys.js";
import type { Logger } from "../core/logger.js";
import type { UserRecord } from "../core/model.js";
import { SILENT_LOGGER } from "../loggers.js";
import { DEFAULT_STORE_URL, parseStoreUrl, redactStoreUrl, storeFromUrl } from "../stores/url.js";

/** A failure to report as one line on stderr; `exitCode` 2 for usage errors, 1 otherwise. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** A usage error (unknown option, missing argument, bad value): exit code 2. */
export function usage(message: string): CliError {
  return new CliError(message, 2);
}

/** A flag of a command: its type, the environment variable it also reads, its default, its help line. */
export interface Flag {
  type: "string" | "boolean";
  /** Environment variable read when the flag is absent. */
  env?: string;
  default?: string;
  /** Placeholder of the value in help (`URL`, `TIME`). */
  value?: string;
  help: string;
  short?: string;
}

/** Flags by name (without the leading `--`). */
export type Flags = Record<string, Flag>;

/** Parsed command line: flag values (argv, then environment, then default) and positionals. */
export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  help: boolean;
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off", ""]);

/** Reads a boolean environment variable; throws a usage error on anything else. */
export function envBoolean(name: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw usage(`${name} must be true or false, not ${JSON.stringify(value)}`);
}

/** Parses `args` against `flags` with node:util parseArgs (strict), filling gaps from `env` and defaults. */
export function parse(args: string[], flags: Flags, env: NodeJS.ProcessEnv = process.env): Parsed {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, flag] of Object.entries(flags)) {
    options[name] = flag.short ? { type: flag.type, short: flag.short } : { type: flag.type };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    const text = firstLine(error);
    const ambiguous = /^Option '(--[a-z-]+)[^']*' argument is ambiguous/.exec(text);
    if (ambiguous)
      throw usage(`the value of ${ambiguous[1]} starts with "-": write it as ${ambiguous[1]}=VALUE`);
    // parseArgs explains at length how to pass a positional starting with "-": keep the first sentence.
    throw usage(text.replace(/^(Unknown option '[^']*')\..*$/, "$1"));
  }
  const values: Record<string, string | boolean | undefined> = {};
  for (const [name, flag] of Object.entries(flags)) {
    const given = parsed.values[name];
    if (given !== undefined) {
      values[name] = given as string | boolean;
      continue;
    }
    const fromEnv = flag.env === undefined ? undefined : env[flag.env];
    if (fromEnv !== undefined) {
      values[name] = flag.type === "boolean" ? envBoolean(flag.env as string, fromEnv) : fromEnv;
      continue;
    }
    values[name] = flag.type === "boolean" ? (flag.default === "true" ? true : undefined) : flag.default;
  }
  return { values, positionals: parsed.positionals, help: parsed.values.help === true };
}

/** The help lines of a flag table. */
export function flagHelp(flags: Flags): string {
  const rows = Object.entries(flags).map(([name, f]) => {
    const left = `  ${f.short ? `-${f.short}, ` : ""}--${name}${f.type === "string" ? ` ${f.value ?? "VALUE"}` : ""}`;
    const extra = [
      f.default !== undefined && f.type === "string" ? `default ${f.default}` : "",
      f.env ? `env ${f.env}` : "",
    ]
      .filter(Boolean)
      .join("; ");
    return [left, `${f.help}${extra ? ` (${extra})` : ""}`] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, r]) => l.padEnd(width) + r).join("\n");
}

/**
 * The help text of a command: `intro` (usage line, description, subcommands; ending in a blank line),
 * then the options of `flags` and `--help`.
 */
export function commandHelp(intro: string, flags: Flags): string {
  return `${intro}Options:\n${flagHelp(flags)}\n  -h, --help                   show this help\n`;
}

/**
 * Parses a command's arguments ({@link parse}). When help is asked for (`-h`, `--help`, or with
 * `subcommands` a first positional `help`), prints `help` on stdout and returns `undefined`.
 */
export function parseCommand(
  args: string[],
  flags: Flags,
  help: string,
  { subcommands = false }: { subcommands?: boolean } = {},
): Parsed | undefined {
  const parsed = parse(args, flags);
  if (parsed.help || (subcommands && parsed.positionals[0] === "help")) {
    process.stdout.write(help);
    return undefined;
  }
  return parsed;
}

/**
 * The usage error for a missing or unknown subcommand of `command`, whose subcommands are `names`.
 */
export function badSubcommand(command: string, sub: string | undefined, names: readonly string[]): CliError {
  const see = `(see revokit ${command} --help)`;
  if (sub !== undefined) return usage(`unknown ${command} subcommand "${sub}" ${see}`);
  const list = names.length > 1 ? `${names.slice(0, -1).join(", ")} or ${names.at(-1)}` : (names[0] ?? "");
  return usage(`${command} needs a subcommand: ${list} ${see}`);
}

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

/** The first line of an error's message (CLI errors are one line). */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split("\n")[0] ?? "").trim();
}

/** A one-line description of an error for stderr, with its stable code when it has one. */
export function describeError(error: unknown): string {
  if (error instanceof CliError) return error.message;
  const line = firstLine(error);
  if (error instanceof AuthError) return `${line} (${error.code})`;
  return line;
}

/** A string flag that must be present. */
export function required(parsed: Parsed, name: string): string {
  const v = parsed.values[name];
  if (typeof v !== "string" || v.length === 0) throw usage(`--${name} is required`);
  return v;
}

/** A string flag's value, or `undefined`. */
export function optional(parsed: Parsed, name: string): string | undefined {
  const v = parsed.values[name];
  return typeof v === "string" ? v : undefined;
}

/** Checks a duration flag at once, so a typo is reported with the flag's name. */
export function durationFlag(parsed: Parsed, name: string): string | undefined {
  const v = optional(parsed, name);
  if (v === undefined) return undefined;
  try {
    parseDuration(v, `--${name}`);
  } catch (error) {
    throw usage(firstLine(error));
  }
  return v;
}

/** An integer flag within bounds. */
export function integerFlag(parsed: Parsed, name: string, min: number, max: number): number | undefined {
  const v = optional(parsed, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min || Number(v) > max) {
    throw usage(`--${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(v)}`);
  }
  return Number(v);
}

/** An algorithm flag. */
export function algorithmFlag(parsed: Parsed): Algorithm | undefined {
  const v = optional(parsed, "algorithm");
  if (v === undefined) return undefined;
  if (!isAlgorithm(v))
    throw usage(`--algorithm must be EdDSA, ES256, RS256 or HS256, not ${JSON.stringify(v)}`);
  return v;
}

/** Parses a time: ISO 8601, `now`, or a duration from now (`10m`: in ten minutes). */
export function parseTime(value: string, flag: string, now = Date.now()): Date {
  const v = value.trim();
  if (v === "now") return new Date(now);
  if (/^\d+(?:\.\d+)?(?:ms|s|m|h|d|w)$/.test(v)) return new Date(now + parseDuration(v, flag));
  const ms = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw usage(
      `${flag} must be an ISO 8601 time (2026-01-31T12:00:00Z), "now" or a duration from now ("10m")`,
    );
  }
  return new Date(ms);
}

/**
 * Parses a past time: ISO 8601, `now`, or a duration meaning that long ago (`10m`: ten minutes ago).
 * @example parsePastTime("10m", "--before") // a Date ten minutes ago
 */
export function parsePastTime(value: string, flag: string, now = Date.now()): Date {
  const v = value.trim();
  if (v === "now") return new Date(now);
  if (/^\d+(?:\.\d+)?(?:ms|s|m|h|d|w)$/.test(v)) return new Date(now - parseDuration(v, flag));
  const ms = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw usage(
      `${flag} must be an ISO 8601 time (2026-01-31T12:00:00Z), "now" or a duration ago ("10m": ten minutes ago)`,
    );
  }
  return new Date(ms);
}

/**
 * Asks before a command that logs out every user: on a terminal the user must type "yes"; without a
 * terminal (a script, a pipe) the command is refused unless `--yes` was given.
 */
export async function confirm(parsed: Parsed, what: { ask: string; refuse: string }): Promise<void> {
  if (parsed.values.yes === true) return;
  if (!process.stdin.isTTY) throw usage(`${what.refuse}: add --yes to confirm (no terminal to ask on)`);
  process.stderr.write(`${what.ask}. Type "yes" to continue: `);
  const answer = await new Promise<string>((resolve) => {
    process.stdin.setEncoding("utf8");
    process.stdin.once("data", (chunk: string) => {
      process.stdin.pause();
      resolve(chunk.trim());
    });
    process.stdin.resume();
  });
  if (answer.toLowerCase() !== "yes") throw new CliError("cancelled: nothing was revoked");
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

/**
 * Opens an `Auth` on the store of `--store` for one admin command. Only an existing, initialised store
 * is opened (a mistyped path or prefix, or `memory:`, fails and creates nothing: `serve` and `init`
 * create stores). Background purging is off, the algorithm defaults to that of the newest stored key
 * (so no stray key is created), and every stored algorithm is accepted (so `revoke --token` takes any
 * token the store's keys signed).
 */
export async function openAdmin(parsed: Parsed): Promise<Auth> {
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
    return await createAuth({
      issuer: process.env.REVOKIT_ISSUER || "http://127.0.0.1:3000",
      audience: process.env.REVOKIT_AUDIENCE || "api",
      store,
      algorithm,
      algorithms,
      accessTokenTtl,
      purgeInterval: 0,
      logger: cliLogger,
    });
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
}

/** Runs `fn` with an admin `Auth` and closes it afterwards, whatever happens. */
export async function withAdmin<T>(parsed: Parsed, fn: (auth: Auth) => Promise<T>): Promise<T> {
  const auth = await openAdmin(parsed);
  try {
    return await fn(auth);
  } finally {
    await auth.close();
  }
}

/** A user by name (case-insensitive), or by id; a `CliError` when there is none. */
export async function findUser(auth: Auth, nameOrId: string): Promise<UserRecord> {
  const user =
    (await auth.store.getUserByName(nameOrId.toLowerCase())) ?? (await auth.store.getUser(nameOrId));
  if (!user) throw new CliError(`no such user: ${nameOrId}`);
  return user;
}

/** Writes a line on stdout. */
export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Prints rows as aligned columns under a header. */
export function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  out(line(header));
  for (const r of rows) out(line(r));
}

/**
 * Prints a list: with `--json` one JSON array of `toJson(item)`, else a table of `toRow(item)` under
 * `header`.
 */
export function printList<T>(
  parsed: Parsed,
  items: readonly T[],
  toJson: (item: T) => unknown,
  header: string[],
  toRow: (item: T) => string[],
): void {
  if (parsed.values.json) out(JSON.stringify(items.map(toJson)));
  else table(header, items.map(toRow));
}

/** ISO 8601 of a time in ms or a Date. */
export function iso(time: number | Date | null | undefined): string {
  if (time === null || time === undefined) return "-";
  return new Date(time).toISOString();
}

/** Reads all of stdin as UTF-8. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/** One line from stdin (a secret piped in): the trailing newline removed; more than one line is an error. */
export async function readSecretLine(what: string): Promise<string> {
  const text = (await readStdin()).replace(/\r?\n$/, "");
  if (/[\r\n]/.test(text)) throw usage(`${what} on stdin must be one line`);
  if (text.length === 0) throw usage(`no ${what} on stdin`);
  return text;
}

/** Asks for a secret on the terminal without echoing it. */
export function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding("utf8");
    let value = "";
    const done = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return done();
        if (ch === "\u0003") return done(new CliError("cancelled", 130));
        if (ch === "\u007f" || ch === "\b") value = [...value].slice(0, -1).join("");
        else value += ch;
      }
    };
    stdin.on("data", onData);
  });
}
