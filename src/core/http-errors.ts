import { AuthError, RevocationUnavailableError } from "./errors.js";

/** How an error is answered over HTTP (RFC 6750): the same in Express, Fastify, Hono and the server. */
export interface HttpError {
  status: number;
  headers: Record<string, string>;
  body: { error: string; error_description: string };
}

const DESCRIPTIONS: Record<string, string> = {
  ERR_TOKEN_INVALID: "The access token is invalid",
  ERR_TOKEN_EXPIRED: "The access token expired",
  ERR_TOKEN_REVOKED: "The access token has been revoked",
  ERR_SESSION_REVOKED: "The session has been revoked",
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
  const description = DESCRIPTIONS[error.code];
  if (description !== undefined) {
    return {
      status: 401,
      headers: {
        "www-authenticate": `Bearer error="invalid_token", error_description=${quoted(description)}`,
      },
      body: { error: "invalid_token", error_description: description },
    };
  }
  if (error.code === "ERR_REVOCATION_UNAVAILABLE" || error.code === "ERR_STORE_UNAVAILABLE") {
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
  return undefined;
}
