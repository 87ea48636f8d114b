/**
 * Errors thrown by revokit. Every error has a stable `code`; messages never contain a token,
 * a refresh secret or a password. Programming mistakes (a wrong argument type) are plain `TypeError`s.
 */

/** Why a token was found invalid; a structured field instead of text packed into the message. */
export type InvalidReason =
  | "malformed"
  | "too_long"
  | "alg"
  | "kid"
  | "typ"
  | "crit"
  | "embedded_key"
  | "signature"
  | "claims"
  | "iss"
  | "aud"
  | "nbf"
  | "iat"
  | "token_type";

/**
 * Every stable error code: the `code` of each {@link AuthError} subclass (one class per code).
 * A `switch` over it is checked by the compiler, so a new code cannot be left unhandled.
 * @example
 * function advice(error: AuthError): string {
 *   switch (error.code) {
 *     case "ERR_TOKEN_EXPIRED":
 *       return "refresh and retry";
 *     // ... one case per code ...
 *     default:
 *       return error.code satisfies never; // a compile error names every code left out
 *   }
 * }
 */
export type AuthErrorCode =
  | "ERR_TOKEN_INVALID"
  | "ERR_TOKEN_EXPIRED"
  | "ERR_TOKEN_REVOKED"
  | "ERR_SESSION_REVOKED"
  | "ERR_REFRESH_REUSED"
  | "ERR_REFRESH_INVALID"
  | "ERR_REVOCATION_UNAVAILABLE"
  | "ERR_STORE_UNAVAILABLE"
  | "ERR_CONFIG_INVALID"
  | "ERR_USER_DISABLED"
  | "ERR_LOGIN_STALE"
  | "ERR_CLOSED"
  | "ERR_STORE_MISSING";

/**
 * Base class of every error with a stable code; abstract, so every error revokit throws is one of
 * the subclasses and `code` is always one of {@link AuthErrorCode}. Each subclass also carries its
 * code as a static (`TokenExpiredError.code`), like jose's errors.
 * @example
 * try {
 *   claims = await auth.verify(token);
 * } catch (error) {
 *   if (!(error instanceof AuthError) || error.code !== TokenExpiredError.code) throw error;
 *   // expired: refresh the token pair, then retry
 * }
 */
export abstract class AuthError extends Error {
  /** Stable, documented code; match on this, not on the message. */
  abstract readonly code: AuthErrorCode;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The token is not a well-formed, correctly signed access token for this issuer and audience. */
export class TokenInvalidError extends AuthError {
  static readonly code = "ERR_TOKEN_INVALID";
  override readonly code = TokenInvalidError.code;
  /** Which check failed. */
  readonly reason: InvalidReason;
  constructor(reason: InvalidReason, message = "access token is invalid") {
    super(message);
    this.reason = reason;
  }
}

/** The access token's `exp` has passed (beyond the clock tolerance). */
export class TokenExpiredError extends AuthError {
  static readonly code = "ERR_TOKEN_EXPIRED";
  override readonly code = TokenExpiredError.code;
  constructor(message = "access token has expired") {
    super(message);
  }
}

/** The access token itself (its jti) was revoked, or it was issued before a global cutoff. */
export class TokenRevokedError extends AuthError {
  static readonly code = "ERR_TOKEN_REVOKED";
  override readonly code = TokenRevokedError.code;
  constructor(message = "access token has been revoked") {
    super(message);
  }
}

/** The session the token belongs to was revoked (logout, logout-all, password change, disable, reuse). */
export class SessionRevokedError extends AuthError {
  static readonly code = "ERR_SESSION_REVOKED";
  override readonly code = SessionRevokedError.code;
  constructor(message = "session has been revoked") {
    super(message);
  }
}

/** A refresh token that had already been rotated was replayed; its whole session is now revoked. */
export class RefreshReusedError extends AuthError {
  static readonly code = "ERR_REFRESH_REUSED";
  override readonly code = RefreshReusedError.code;
  constructor(message = "refresh token was reused; the session has been revoked") {
    super(message);
  }
}

/** The refresh token is unknown, malformed, expired, or belongs to a revoked session. */
export class RefreshInvalidError extends AuthError {
  static readonly code = "ERR_REFRESH_INVALID";
  override readonly code = RefreshInvalidError.code;
  /** `unknown`, `expired`, `idle_expired` or `revoked`. */
  readonly reason: "unknown" | "expired" | "idle_expired" | "revoked";
  constructor(reason: RefreshInvalidError["reason"], message = "refresh token is invalid") {
    super(message);
    this.reason = reason;
  }
}

/** The replica cannot show it is current and the store cannot answer: fail closed. */
export class RevocationUnavailableError extends AuthError {
  static readonly code = "ERR_REVOCATION_UNAVAILABLE";
  override readonly code = RevocationUnavailableError.code;
  /** Seconds after which a retry is reasonable. */
  readonly retryAfter: number;
  constructor(message = "revocation state is unavailable", retryAfter = 1, options?: ErrorOptions) {
    super(message, options);
    this.retryAfter = retryAfter;
  }
}

/** The store could not complete a write or read; nothing is assumed to have happened. */
export class StoreUnavailableError extends AuthError {
  static readonly code = "ERR_STORE_UNAVAILABLE";
  override readonly code = StoreUnavailableError.code;
  constructor(message = "the store is unavailable", options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * `open({ create: false })` found no initialised store at that place (a mistyped SQLite path, an empty
 * Redis prefix, a missing PostgreSQL schema, a new `memoryStore`), and created nothing.
 */
export class StoreMissingError extends AuthError {
  static readonly code = "ERR_STORE_MISSING";
  override readonly code = StoreMissingError.code;
  constructor(message = "no initialised store there") {
    super(message);
  }
}

/** `createAuth` or a store factory was given an invalid option. */
export class ConfigInvalidError extends AuthError {
  static readonly code = "ERR_CONFIG_INVALID";
  override readonly code = ConfigInvalidError.code;
  /** The option at fault. */
  readonly option: string;
  constructor(option: string, message: string) {
    super(`${option}: ${message}`);
    this.option = option;
  }
}

/** The user is disabled: no login, no refresh, no new session. */
export class UserDisabledError extends AuthError {
  static readonly code = "ERR_USER_DISABLED";
  override readonly code = UserDisabledError.code;
  constructor(message = "user is disabled") {
    super(message);
  }
}

/**
 * A login whose credentials were checked before the user was cut off (logout-all, password change,
 * disable, delete at the same moment): no session was created. Answer it like wrong credentials.
 */
export class LoginStaleError extends AuthError {
  static readonly code = "ERR_LOGIN_STALE";
  override readonly code = LoginStaleError.code;
  constructor(message = "the credentials were checked before the user's sessions were revoked") {
    super(message);
  }
}

/** The `Auth` instance was closed. */
export class ClosedError extends AuthError {
  static readonly code = "ERR_CLOSED";
  override readonly code = ClosedError.code;
  constructor(message = "auth instance is closed") {
    super(message);
  }
}

/** Every {@link AuthErrorCode} as a value, for documentation checks and iteration. */
export const ERROR_CODES = [
  "ERR_TOKEN_INVALID",
  "ERR_TOKEN_EXPIRED",
  "ERR_TOKEN_REVOKED",
  "ERR_SESSION_REVOKED",
  "ERR_REFRESH_REUSED",
  "ERR_REFRESH_INVALID",
  "ERR_REVOCATION_UNAVAILABLE",
  "ERR_STORE_UNAVAILABLE",
  "ERR_CONFIG_INVALID",
  "ERR_USER_DISABLED",
  "ERR_LOGIN_STALE",
  "ERR_CLOSED",
  "ERR_STORE_MISSING",
] as const satisfies readonly AuthErrorCode[];

/**
 * The former name of {@link AuthErrorCode}, kept so code written against it still compiles.
 * @deprecated Use {@link AuthErrorCode}.
 */
export type ErrorCode = AuthErrorCode;
