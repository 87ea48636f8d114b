import { AuthError } from "./errors.js";

/**
 * The one way revokit describes an error it did not make, for logs and for the messages of its own
 * errors: our own errors by their message; anything else by its name and code only
 * (`Error (ECONNREFUSED)`), because a driver's message may quote a query, a key or a password.
 * With `withMessage`, the message too, for errors whose text is known to carry no data (a socket's
 * `connect ECONNREFUSED 127.0.0.1:6379`).
 * @example errorText(new Error("boom")) // "Error"
 * @example errorText(Object.assign(new Error("x"), { code: "ECONNRESET" })) // "Error (ECONNRESET)"
 */
export function errorText(error: unknown, options?: { withMessage?: boolean }): string {
  if (error instanceof AuthError) return error.message;
  if (!(error instanceof Error)) return typeof error;
  if (options?.withMessage) return error.message || error.name;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? `${error.name} (${code})` : error.name;
}
