import { AuthError, RevocationUnavailableError } from "../core/errors.js";
import { type HttpError, httpErrorFor } from "../core/http-errors.js";
import { AuthHttpError } from "../http/bearer.js";

/**
 * An error a route throws on purpose: the status, the stable `error` code of the body and a
 * description that is safe to show (never a token, secret or password).
 */
export class ApiError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** Stable code of the body (`invalid_request`, `invalid_grant`, ...). */
  readonly code: string;
  /** Extra response headers (`WWW-Authenticate`, `Retry-After`). */
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, description: string, headers: Record<string, string> = {}) {
    super(description);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** 400 `invalid_request`. */
export function invalidRequest(description: string): ApiError {
  return new ApiError(400, "invalid_request", description);
}

/** 404 `not_found`. */
export function notFound(description = "Not found"): ApiError {
  return new ApiError(404, "not_found", description);
}

/** 503 `temporarily_unavailable` with `Retry-After`. */
export function unavailable(
  retryAfter = 1,
  description = "The service is temporarily unavailable",
): ApiError {
  return new ApiError(503, "temporarily_unavailable", description, { "retry-after": String(retryAfter) });
}

/** Fastify's own errors, by code: what the client did wrong, in our shape. */
const FRAMEWORK: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, "The request body is too large"],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, "Unsupported Content-Type for this endpoint"],
  FST_ERR_CTP_INVALID_TYPE: [415, "Unsupported Content-Type for this endpoint"],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, "Content-Length does not match the body"],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, "The request body is empty"],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, "The request body is not valid JSON"],
  FST_ERR_BAD_URL: [400, "The request URL is malformed"],
  FST_ERR_MAX_PARAM_LENGTH: [404, "Not found"],
  FST_ERR_VALIDATION: [400, "The request is malformed"],
};

/** 500 `server_error`: a fault of ours (logged); the description says nothing about it. */
export function serverError(): ApiError {
  return new ApiError(500, "server_error", "The server failed to handle the request");
}

/**
 * Maps any error to the answer the client gets (the one answer shape of the core, {@link HttpError},
 * that the middlewares send too). Every answer is `{ error, error_description }`: a
 * store outage, a stale replica or a shutdown is a 503 `temporarily_unavailable` with `Retry-After`;
 * anything unexpected is a 500 `server_error` (a fault, logged). Descriptions never echo request content.
 */
export function answerFor(error: unknown): { answer: HttpError; fault: boolean } {
  if (error instanceof ApiError) return { answer: toAnswer(error), fault: false };
  if (error instanceof AuthHttpError) {
    return { answer: { status: error.status, headers: error.headers, body: error.body }, fault: false };
  }
  if (error instanceof AuthError) {
    switch (error.code) {
      case "ERR_STORE_UNAVAILABLE":
      case "ERR_REVOCATION_UNAVAILABLE":
      case "ERR_CLOSED": {
        const retry = error instanceof RevocationUnavailableError ? error.retryAfter : 1;
        return { answer: toAnswer(unavailable(retry)), fault: error.code !== "ERR_CLOSED" };
      }
      case "ERR_REFRESH_INVALID":
      case "ERR_REFRESH_REUSED":
        return {
          answer: toAnswer(new ApiError(400, "invalid_grant", grantDescription(error.code))),
          fault: false,
        };
      case "ERR_USER_DISABLED":
        return {
          answer: toAnswer(new ApiError(403, "account_disabled", "The account is disabled")),
          fault: false,
        };
    }
    const mapped = httpErrorFor(error);
    if (mapped) return { answer: mapped, fault: false };
  }
  const code =
    typeof (error as { code?: unknown })?.code === "string" ? (error as { code: string }).code : "";
  const known = FRAMEWORK[code];
  if (known) return { answer: toAnswer(invalidStatus(known[0], known[1])), fault: false };
  const status = (error as { statusCode?: unknown })?.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return { answer: toAnswer(invalidStatus(status, "The request is malformed")), fault: false };
  }
  return { answer: toAnswer(serverError()), fault: true };
}

function invalidStatus(status: number, description: string): ApiError {
  return new ApiError(status, status === 404 ? "not_found" : "invalid_request", description);
}

function grantDescription(code: string): string {
  return code === "ERR_REFRESH_REUSED"
    ? "The refresh token was already used; the session has been revoked"
    : "The refresh token is invalid, expired or revoked";
}

function toAnswer(error: ApiError): HttpError {
  return {
    status: error.status,
    headers: error.headers,
    body: { error: error.code, error_description: error.message },
  };
}
