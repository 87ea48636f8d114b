import type { Auth } from "../auth.js";
import { AuthError, StoreUnavailableError } from "../core/errors.js";

/**
 * Runs a direct store call of the server (users, clients, rate limits): a failure becomes
 * `StoreUnavailableError` (answered 503 `temporarily_unavailable`) and counts in `store_errors`.
 */
export async function storeCall<T>(auth: Auth, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof AuthError && !(error instanceof StoreUnavailableError)) throw error;
    auth.metrics.storeErrors++;
    if (error instanceof StoreUnavailableError) throw error;
    throw new StoreUnavailableError(`the ${auth.store.kind} store failed`, { cause: error });
  }
}
