import type { Logger } from "./core/logger.js";

/** The default {@link Logger} of the library and every store: JSON lines on stderr, warnings and errors only. */
export const STDERR_LOGGER: Logger = {
  warn: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: "warn", ...obj, msg })}\n`),
  error: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: "error", ...obj, msg })}\n`),
};

/** A {@link Logger} that drops everything (admin commands print their own one-line errors). */
export const SILENT_LOGGER: Logger = { warn: () => undefined, error: () => undefined };
