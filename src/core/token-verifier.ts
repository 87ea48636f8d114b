import type { AccessTokenClaims } from "./access-token.js";

/**
 * What the middleware (`requireAuth` in Express, Fastify and Hono) needs: something that verifies an
 * access token. Both an `Auth` from `createAuth()` and a remote verifier from `createVerifier()`
 * (`revokit/verifier`) are one, with the same contract: the claims, or an `AuthError` with a stable code.
 */
/**
 * The key of a verifier's synchronous entry point, for revokit's own middleware (not exported from
 * the package): the claims, or a promise of them when I/O is needed.
 * @internal
 */
export const verifyNow: unique symbol = Symbol("revokit.verifyNow");

export interface TokenVerifier {
  /**
   * Verifies an access token: signature, claims, then revocation. `strict` asks for revocation state
   * proven current at this moment (an `Auth` asks its store).
   */
  verify(token: string, options?: { strict?: boolean }): Promise<AccessTokenClaims>;
  /** {@link verify} without a promise when no I/O is needed (optional). @internal */
  [verifyNow]?(token: string, strict: boolean): AccessTokenClaims | Promise<AccessTokenClaims>;
}
