/** What commands read from the person running them: stdin, a hidden prompt, a confirmation. */
import type { Parsed } from "./args.js";
import { CliError, usage } from "./errors.js";

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
