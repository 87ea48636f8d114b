import { AuthError, type AuthErrorCode, RevocationUnavailableError } from "./errors.js";

/** How an error is answered over HTTP (RFC 6750): the same in Express, Fastify, Hono and the server. */
export interface HttpError {
  status: number;
  headers: Record<string, string>;
  body: { error: string; error_description: string };
}

/**
 * How a request carrying a token is answered when verifying it threw an error with that code: the
 * token refused (401 `invalid_token` with this description), the revocation state unavailable (503),
 * or `null`: not an outcome of verifying a request's token (a refresh, a login, configuration), left
 * to the caller. A `Record` over every code, so a new code cannot be added without deciding here.
 */
const REQUEST_OUTCOMES: Record<AuthErrorCode, { invalidToken: string } | "unavailable" | null> = {
  ERR_TOKEN_INVALID: { invalidToken: "The access token is invalid" },
  ERR_TOKEN_EXPIRED: { invalidToken: "The access token expired" },
  ERR_TOKEN_REVOKED: { invalidToken: "The access token has been revoked" },
  ERR_SESSION_REVOKED: { invalidToken: "The session has been revoked" },
  ERR_REVOCATION_UNAVAILABLE: "unavailable",
  ERR_STORE_UNAVAILABLE: "unavailable",
  ERR_REFRESH_REUSED: null,
  ERR_REFRESH_INVALID: null,
  ERR_CONFIG_INVALID: null,
  ERR_USER_DISABLED: null,
  ERR_LOGIN_STALE: null,
  ERR_CLOSED: null,
  ERR_STORE_MISSING: null,
};

/** Escapes a value for a quoted-string in an auth-param (RFC 9110 §5.6.4). */
function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, "\\$&")}"`;
}

/** The challenge for a request that carried no credentials at all: no error code (RFC 6750 §3.1). */
export function missingTokenError(realm: string): HttpError {
  return {
    status: 401,
    headers: { "www-authenticate": `Bearer realm=${quoted(realm)}` },
    body: { error: "unauthorized", error_description: "Authentication is required" },
  };
}

/** A malformed request: two tokens, a malformed Authorization header. 400 `invalid_request`. */
export function invalidRequestError(description: string): HttpError {
  return {
    status: 400,
    headers: {
      "www-authenticate": `Bearer error="invalid_request", error_description=${quoted(description)}`,
    },
    body: { error: "invalid_request", error_description: description },
  };
}

/** A valid token without the scope a route needs. 403 `insufficient_scope`. */
export function insufficientScopeError(scope: string): HttpError {
  const description = "The access token lacks the required scope";
  return {
    status: 403,
    headers: {
      "www-authenticate": `Bearer error="insufficient_scope", error_description=${quoted(description)}, scope=${quoted(scope)}`,
    },
    body: { error: "insufficient_scope", error_description: description },
  };
}

/**
 * Maps an error thrown while authenticating a request to its HTTP answer: invalid, expired and
 * revoked tokens give 401 `invalid_token`; unavailable revocation state 503 with `Retry-After`;
 * anything else is not an authentication outcome and gives `undefined` (let the framework handle it).
 */
export function httpErrorFor(error: unknown): HttpError | undefined {
  if (!(error instanceof AuthError)) return undefined;
  // `?? null`: a subclass from outside revokit may carry a code outside the union; not ours to answer.
  const outcome = REQUEST_OUTCOMES[error.code] ?? null;
  if (outcome === null) return undefined;
  if (outcome !== "unavailable") {
    const description = outcome.invalidToken;
    return {
      status: 401,
      headers: {
        "www-authenticate": `Bearer error="invalid_token", error_description=${quoted(description)}`,
      },
      body: { error: "invalid_token", error_description: description },
    };
  }
  const retry = error instanceof RevocationUnavailableError ? error.retryAfter : 1;
  return {
    status: 503,
    headers: { "retry-after": String(retry) },
    body: {
      error: "temporarily_unavailable",
      error_description: "Revocation state is temporarily unavailable",
    },
  };
}
