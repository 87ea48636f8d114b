/**
 * The errors of the command line: every failure is one line on stderr, usage errors exit 2.
 */
import { AuthError } from "../core/errors.js";

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
