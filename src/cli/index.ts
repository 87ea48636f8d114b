#!/usr/bin/env node
/**
 * The `revokit` command line: `serve` runs the auth server; `init` creates a store; the admin
 * commands work on the same `--store` and never create one. Errors are one line on stderr; usage
 * errors exit 2, other failures 1.
 */
import { readFileSync } from "node:fs";
import { CliError, describeError } from "./errors.js";

type Command = (args: string[]) => Promise<number>;

/** Each command is loaded only when run, so admin commands start without loading the server. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import("./serve.js")).serve,
  init: async () => (await import("./init.js")).init,
  users: async () => (await import("./users.js")).users,
  sessions: async () => (await import("./sessions.js")).sessions,
  revoke: async () => (await import("./revoke.js")).revoke,
  clients: async () => (await import("./clients.js")).clients,
  keys: async () => (await import("./keys.js")).keys,
  status: async () => (await import("./status.js")).status,
};

const HELP = `Usage: revokit <command> [options]

Commands:
  serve                      run the auth server (HTTP API); creates the store if needed
  init                       create the store (before any serve), with its first signing key
  users add|list|disable|enable|delete
                             manage user accounts (users add reads the password from stdin)
  sessions USER              list a user's live sessions
  revoke --session ID | --user NAME | --token JWT | --jti ID | --before TIME
                             revoke at one grain (--before logs out everyone: asks, or --yes)
  clients add|list|remove    manage confidential OAuth clients
  keys list|rotate           list or rotate signing keys
  status                     show the store, revocations, keys, users and clients

Every command takes --store URL (env REVOKIT_STORE; default sqlite:./data/revokit.db) and --help.
URL: sqlite:PATH, redis://HOST:PORT[?prefix=P], postgres://...[?schema=S] or memory:.
Only serve and init create a store; other commands refuse a store that does not exist yet.
`;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** Runs one command line; resolves to the exit code, or -1 when the command keeps running (serve). */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stderr.write(HELP);
    return 2;
  }
  if (command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(HELP);
    return 0;
  }
  if (command === "--version" || command === "-v") {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const load = COMMANDS[command];
  if (!load) throw new CliError(`unknown command "${command}" (see revokit --help)`, 2);
  return (await load())(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code < 0) return;
    process.exitCode = code;
    // Exit even if a driver left a handle open; the timer does not keep the process alive by itself.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (error: unknown) => {
    const code = error instanceof CliError ? error.exitCode : 1;
    process.stderr.write(`revokit: ${describeError(error)}\n`);
    process.exitCode = code;
    setTimeout(() => process.exit(code), 2000).unref();
  },
);
