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

/** Base class of every error with a stable code. */
export class AuthError extends Error {
  /** Stable, documented code; match on this, not on the message. */
  readonly code: string = "ERR_AUTH";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The token is not a well-formed, correctly signed access token for this issuer and audience. */
export class TokenInvalidError extends AuthError {
  override readonly code = "ERR_TOKEN_INVALID";
  /** Which check failed. */
  readonly reason: InvalidReason;
  constructor(reason: InvalidReason, message = "access token is invalid") {
    super(message);
    this.reason = reason;
  }
}

/** The access token's `exp` has passed (beyond the clock tolerance). */
export class TokenExpiredError extends AuthError {
  override readonly code = "ERR_TOKEN_EXPIRED";
  constructor(message = "access token has expired") {
    super(message);
  }
}

/** The access token itself (its jti) was revoked, or it was issued before a global cutoff. */
export class TokenRevokedError extends AuthError {
  override readonly code = "ERR_TOKEN_REVOKED";
  constructor(message = "access token has been revoked") {
    super(message);
  }
}

/** The session the token belongs to was revoked (logout, logout-all, password change, disable, reuse). */
export class SessionRevokedError extends AuthError {
  override readonly code = "ERR_SESSION_REVOKED";
  constructor(message = "session has been revoked") {
    super(message);
  }
}

/** A refresh token that had already been rotated was replayed; its whole session is now revoked. */
export class RefreshReusedError extends AuthError {
  override readonly code = "ERR_REFRESH_REUSED";
  constructor(message = "refresh token was reused; the session has been revoked") {
    super(message);
  }
}

/** The refresh token is unknown, malformed, expired, or belongs to a revoked session. */
export class RefreshInvalidError extends AuthError {
  override readonly code = "ERR_REFRESH_INVALID";
  /** `unknown`, `expired`, `idle_expired` or `revoked`. */
  readonly reason: "unknown" | "expired" | "idle_expired" | "revoked";
  constructor(reason: RefreshInvalidError["reason"], message = "refresh token is invalid") {
    super(message);
    this.reason = reason;
  }
}

/** The replica cannot show it is current and the store cannot answer: fail closed. */
export class RevocationUnavailableError extends AuthError {
  override readonly code = "ERR_REVOCATION_UNAVAILABLE";
  /** Seconds after which a retry is reasonable. */
  readonly retryAfter: number;
  constructor(message = "revocation state is unavailable", retryAfter = 1, options?: ErrorOptions) {
    super(message, options);
    this.retryAfter = retryAfter;
  }
}

/** The store could not complete a write or read; nothing is assumed to have happened. */
export class StoreUnavailableError extends AuthError {
  override readonly code = "ERR_STORE_UNAVAILABLE";
  constructor(message = "the store is unavailable", options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * `open({ create: false })` found no initialised store at that place (a mistyped SQLite path, an empty
 * Redis prefix, a missing PostgreSQL schema, a new `memoryStore`), and created nothing.
 */
export class StoreMissingError extends AuthError {
  override readonly code = "ERR_STORE_MISSING";
  constructor(message = "no initialised store there") {
    super(message);
  }
}

/** `createAuth` or a store factory was given an invalid option. */
export class ConfigInvalidError extends AuthError {
  override readonly code = "ERR_CONFIG_INVALID";
  /** The option at fault. */
  readonly option: string;
  constructor(option: string, message: string) {
    super(`${option}: ${message}`);
    this.option = option;
  }
}

/** The user is disabled: no login, no refresh, no new session. */
export class UserDisabledError extends AuthError {
  override readonly code = "ERR_USER_DISABLED";
  constructor(message = "user is disabled") {
    super(message);
  }
}

/**
 * A login whose credentials were checked before the user was cut off (logout-all, password change,
 * disable, delete at the same moment): no session was created. Answer it like wrong credentials.
 */
export class LoginStaleError extends AuthError {
  override readonly code = "ERR_LOGIN_STALE";
  constructor(message = "the credentials were checked before the user's sessions were revoked") {
    super(message);
  }
}

/** No such session (or not one of this user's). */
export class SessionNotFoundError extends AuthError {
  override readonly code = "ERR_SESSION_NOT_FOUND";
  constructor(message = "session not found") {
    super(message);
  }
}

/** The `Auth` instance was closed. */
export class ClosedError extends AuthError {
  override readonly code = "ERR_CLOSED";
  constructor(message = "auth instance is closed") {
    super(message);
  }
}

/** Every stable error code, for documentation checks and exhaustive handling. */
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
  "ERR_SESSION_NOT_FOUND",
  "ERR_CLOSED",
  "ERR_STORE_MISSING",
] as const;

/** One of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];
