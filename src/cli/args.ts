/**
 * The command line of a command: its flags (argv, then the environment, then defaults), its help
 * text, and the checked values of its flags.
 */
import { parseArgs } from "node:util";
import { parseDuration } from "../core/duration.js";
import { type Algorithm, isAlgorithm } from "../core/keys.js";
import { type CliError, firstLine, usage } from "./errors.js";

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
