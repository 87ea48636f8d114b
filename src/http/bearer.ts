/**
 * Request parsing shared by the Express, Fastify and Hono middleware: reading the one bearer token of
 * a request (RFC 6750 §2.1 header, or a cookie when asked), checking `requireAuth` options, and
 * composing verification, the scope check and the error mapping of `src/core/http-errors.ts` (the
 * only place where an outcome becomes a status and a challenge, so the three adapters cannot drift).
 */
import type { AccessTokenClaims } from "../core/access-token.js";
import { AuthError } from "../core/errors.js";
import {
  type HttpError,
  httpErrorFor,
  insufficientScopeError,
  invalidRequestError,
  missingTokenError,
} from "../core/http-errors.js";
import { type TokenVerifier as Auth, verifyNow } from "../core/token-verifier.js";

/**
 * Options of `requireAuth` in `revokit/express`, `revokit/fastify` and `revokit/hono` (`Req`: the
 * framework's request, given to `onRefused`).
 */
export interface RequireAuthOptions<Req = unknown> {
  /** Scopes the token's `scope` claim must all hold (an array, or one space-separated string); else 403 `insufficient_scope`. */
  scope?: string | string[];
  /** Also ask the store, on top of the replica (for the most sensitive routes). Default `false`. */
  strict?: boolean;
  /** Also read the token from this cookie when the request has no `Authorization: Bearer` header. */
  cookie?: string;
  /** `realm` of the bare challenge sent when a request carries no token. Default `"api"`. */
  realm?: string;
  /** Sees every refusal and why, before it is answered (for logs and metrics); see {@link OnRefused}. */
  onRefused?: OnRefused<Req>;
}

/**
 * `onRefused` of `requireAuth`: called with every refusal, just before it is answered, and the
 * framework's request (Express `req`, Fastify `request`, Hono `c`). `refusal.reason` says why
 * (`ERR_TOKEN_EXPIRED`, `ERR_TOKEN_REVOKED`, `no_token`, ...), `refusal.cause` is the verification
 * error, when there was one (`cause.reason` tells an invalid token apart: `signature`, `kid`, ...).
 * For logs and metrics: it cannot change the answer, and must not throw (what it throws goes to
 * the framework's error handling). Never log the token; the refusal does not carry it.
 * @example
 * requireAuth(auth, { onRefused: (refusal, req) => log.info({ reason: refusal.reason, path: req.path }, "refused") })
 */
export type OnRefused<Req> = (refusal: AuthHttpError, request: Req) => void;

/** {@link RequireAuthOptions}, checked and normalized once, when the middleware is created. */
export interface ResolvedAuthOptions<Req = unknown> {
  scopes: readonly string[];
  strict: boolean;
  cookie: string | undefined;
  realm: string;
  onRefused: OnRefused<Req> | undefined;
}

/** What {@link readBearer} reads from a request. */
export interface BearerInput {
  /** The `Authorization` header: a string, one string per header line, or `undefined` when absent. */
  authorization: string | string[] | undefined;
  /** The `Cookie` header, when a cookie may carry the token. */
  cookieHeader?: string | undefined;
  /** Name of the cookie that may carry the token; without it cookies are ignored. */
  cookieName?: string | undefined;
}

/** The outcome of {@link readBearer}: one token, no credentials at all, or a malformed request. */
export type BearerResult = { token: string } | { missing: true } | { error: HttpError };

/**
 * Why a request was refused: the code of the verification error when the token itself was refused
 * (`ERR_TOKEN_INVALID`, `ERR_TOKEN_EXPIRED`, `ERR_TOKEN_REVOKED`, `ERR_SESSION_REVOKED`,
 * `ERR_REVOCATION_UNAVAILABLE`, `ERR_STORE_UNAVAILABLE`), else `no_token` (no credentials),
 * `invalid_request` (a malformed header, two tokens) or `insufficient_scope`.
 */
export type RefusalReason = string;

/** A refusal from {@link authenticate}: the HTTP answer, why, and the verification error if any. */
export interface Refusal {
  error: HttpError;
  reason: RefusalReason;
  cause?: AuthError;
}

/** The outcome of {@link authenticate}: the verified claims, or the refusal to answer. */
export type AuthenticateResult = { claims: AccessTokenClaims } | Refusal;

/**
 * An authentication failure as an `Error` carrying its HTTP answer: `status` (also as `statusCode`,
 * which Fastify and `http-errors`-aware handlers read), `headers` (the `WWW-Authenticate` challenge or
 * `Retry-After`) and the JSON `body` `{ error, error_description }`. `code` is the RFC 6750 error code.
 */
export class AuthHttpError extends Error {
  /** RFC 6750 / RFC 6749 error code of the body: `invalid_token`, `invalid_request`, ... */
  readonly code: string;
  /**
   * Why the request was refused: a verification error's code (`ERR_TOKEN_EXPIRED`,
   * `ERR_TOKEN_REVOKED`, ...), `no_token`, `invalid_request` or `insufficient_scope`; the code of
   * the body when unknown. The error itself, if any, is `cause`.
   */
  readonly reason: RefusalReason;
  readonly status: number;
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: HttpError["body"];
  /** The message is safe to show to the client (it never contains a token). */
  readonly expose = true;
  constructor(answer: HttpError, options?: ErrorOptions & { reason?: RefusalReason }) {
    super(answer.body.error_description, options);
    this.name = "AuthHttpError";
    this.code = answer.body.error;
    this.reason = options?.reason ?? (options?.cause instanceof AuthError ? options.cause.code : this.code);
    this.status = answer.status;
    this.statusCode = answer.status;
    this.headers = { ...answer.headers };
    this.body = { ...answer.body };
  }
}

/** RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`. */
const BEARER_CREDENTIALS = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
/** The usual spelling, tested without a capture (the token is then the rest after 7 characters). */
const BEARER_USUAL = /^Bearer [A-Za-z0-9\-._~+/]+=*$/;
/** Credentials: an auth-scheme (RFC 9110 token), spaces, then something. */
const CREDENTIALS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ +\S/;
/** RFC 6265 cookie-name (a token). */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 6749 §3.3 scope-token. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
/** A realm: visible ASCII and spaces (quoted and escaped in the challenge). */
const REALM = /^[\x20-\x7e]+$/;

const MORE_THAN_ONE = "The request must carry exactly one access token";
const MALFORMED = "The Authorization header is malformed";

/**
 * Reads the one bearer token of a request. No credentials, or credentials of another scheme, give
 * `{ missing: true }` (answered with a bare challenge); two `Authorization` headers (or two
 * comma-joined credentials), a token in both the header and the cookie, or a malformed `Bearer`
 * header give a 400 `invalid_request` answer. The token is not verified here.
 */
export function readBearer(input: BearerInput): BearerResult {
  const header = singleHeader(input.authorization);
  if (header === null) return { error: invalidRequestError(MORE_THAN_ONE) };
  let token: string | undefined;
  if (header !== undefined) {
    const match = BEARER_USUAL.test(header) ? undefined : BEARER_CREDENTIALS.exec(header);
    if (match === undefined) {
      token = header.slice(7);
    } else if (match) {
      token = match[1]!;
    } else if (
      header.includes(",") &&
      header.split(",").filter((part) => CREDENTIALS.test(part.trim())).length > 1
    ) {
      // Two header lines joined by a proxy or a client (RFC 9110 §5.3).
      return { error: invalidRequestError(MORE_THAN_ONE) };
    } else if (/^bearer(?:\s|$)/i.test(header)) {
      return { error: invalidRequestError(MALFORMED) };
    }
    // Any other scheme is not a bearer token: as if there were no credentials (RFC 6750 §3.1).
  }
  if (input.cookieName !== undefined && input.cookieHeader) {
    const cookie = readCookie(input.cookieHeader, input.cookieName);
    if (cookie === null) return { error: invalidRequestError(MORE_THAN_ONE) };
    if (cookie !== undefined) {
      if (token !== undefined) return { error: invalidRequestError(MORE_THAN_ONE) };
      token = cookie;
    }
  }
  return token === undefined ? { missing: true } : { token };
}

/**
 * The `Authorization` header of a Node request, as {@link BearerInput} takes it, read from
 * `rawHeaders`: Node builds `req.headers` only when it is first read (an object of every header, a
 * few microseconds a request), and keeps only the first of several `Authorization` lines there; here
 * every line comes back when there are more than one. Without `rawHeaders` (an adapter), `headers`.
 */
export function nodeAuthorization(req: {
  headers: { authorization?: string | undefined };
  rawHeaders?: string[];
}): string | string[] | undefined {
  const raw = req.rawHeaders;
  if (!Array.isArray(raw)) return req.headers.authorization;
  let first: string | undefined;
  let all: string[] | undefined;
  for (let i = 0; i < raw.length - 1; i += 2) {
    if (!isAuthorizationName(raw[i]!)) continue;
    const value = raw[i + 1]!;
    if (first === undefined) first = value;
    else (all ??= [first]).push(value);
  }
  return all ?? first;
}

/** Whether a raw header name is `Authorization`, in any case (the usual spellings without allocating). */
function isAuthorizationName(name: string): boolean {
  return (
    name.length === 13 &&
    (name === "authorization" || name === "Authorization" || name.toLowerCase() === "authorization")
  );
}

/** The one header value, `undefined` when absent or empty, `null` when the request has several. */
function singleHeader(value: string | string[] | undefined): string | undefined | null {
  if (Array.isArray(value)) {
    if (value.length > 1) return null;
    value = value[0];
  }
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  return trimmed.length === 0 ? undefined : trimmed;
}

/**
 * The value of cookie `name` in a `Cookie` header (quotes removed): `undefined` when absent or empty,
 * `null` when the header holds the name twice with different values (two tokens).
 */
function readCookie(header: string, name: string): string | undefined | null {
  let found: string | undefined;
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (value.length === 0) continue;
    if (found !== undefined && found !== value) return null;
    found = value;
  }
  return found;
}

/** Throws a `TypeError` naming `what` unless `auth` is an `Auth` (something with a `verify` method). */
export function assertAuth(auth: unknown, what: string): asserts auth is Auth {
  if (typeof auth !== "object" || auth === null || typeof (auth as Auth).verify !== "function") {
    throw new TypeError(`${what} must be an Auth instance from createAuth()`);
  }
}

/**
 * Checks `requireAuth`'s arguments when the middleware is created (a `TypeError` names the bad one)
 * and normalizes the options.
 */
export function resolveAuthOptions<Req>(
  auth: unknown,
  options: RequireAuthOptions<Req> | undefined,
): ResolvedAuthOptions<Req> {
  assertAuth(auth, "requireAuth: auth");
  if (options === undefined)
    return { scopes: [], strict: false, cookie: undefined, realm: "api", onRefused: undefined };
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError("requireAuth: options must be an object");
  }
  for (const key of Object.keys(options)) {
    if (key !== "scope" && key !== "strict" && key !== "cookie" && key !== "realm" && key !== "onRefused") {
      throw new TypeError(`requireAuth: unknown option "${key}"`);
    }
  }
  const { scope, strict = false, cookie, realm = "api", onRefused } = options;
  let scopes: string[] = [];
  if (scope !== undefined) {
    const list = typeof scope === "string" ? scope.split(" ").filter((s) => s.length > 0) : scope;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      !list.every((s) => typeof s === "string" && SCOPE_TOKEN.test(s))
    ) {
      throw new TypeError(
        "requireAuth: scope must be one or more scope tokens (a string or an array of strings)",
      );
    }
    scopes = [...new Set(list)];
  }
  if (typeof strict !== "boolean") throw new TypeError("requireAuth: strict must be a boolean");
  if (cookie !== undefined && (typeof cookie !== "string" || !COOKIE_NAME.test(cookie))) {
    throw new TypeError("requireAuth: cookie must be a cookie name");
  }
  if (typeof realm !== "string" || !REALM.test(realm)) {
    throw new TypeError("requireAuth: realm must be a non-empty string of printable ASCII");
  }
  if (onRefused !== undefined && typeof onRefused !== "function") {
    throw new TypeError("requireAuth: onRefused must be a function");
  }
  return { scopes, strict, cookie, realm, onRefused };
}

/**
 * Authenticates one request: reads its bearer token, verifies it (against the replica, and the store
 * too when `strict`), and checks the required scopes. Failures come back as the HTTP answer mapped by
 * the core; errors that are not authentication outcomes (a closed `Auth`, a bug) are thrown.
 */
export async function authenticate(
  auth: Auth,
  input: BearerInput,
  options: ResolvedAuthOptions<unknown>,
): Promise<AuthenticateResult> {
  return authenticateNow(auth, input, options);
}

/**
 * {@link authenticate} without a promise when no I/O is needed (the usual case: the replica is
 * fresh and the key known), so that the middleware adds no asynchronous step to a request.
 * Returns the outcome or a promise of it; throws (or rejects with) what is not an authentication outcome.
 */
export function authenticateNow(
  auth: Auth,
  input: BearerInput,
  options: ResolvedAuthOptions<never>,
): AuthenticateResult | Promise<AuthenticateResult> {
  // The usual request, one `Bearer <token>` header and no cookie to weigh, goes straight to verify:
  // a token that verifies has the b64token syntax, so the header's syntax is checked (by readBearer)
  // only when the answer is a refusal, which then becomes exactly what readBearer would have said.
  const usual = usualBearerToken(input);
  if (usual === undefined) return verifyRead(auth, readBearer(input), options);
  const result = verifyToken(auth, usual, options);
  if (result instanceof Promise)
    return result.then((r) => ("claims" in r ? r : recheck(auth, input, usual, r, options)));
  return "claims" in result ? result : recheck(auth, input, usual, result, options);
}

/** The token of a lone `Authorization: Bearer <token>` with no cookie in play; `undefined` otherwise. */
function usualBearerToken(input: BearerInput): string | undefined {
  const header = input.authorization;
  if (typeof header !== "string" || header.length < 8 || !header.startsWith("Bearer ")) return undefined;
  if (input.cookieName !== undefined && input.cookieHeader) return undefined;
  return header.slice(7);
}

/** A refusal of the usual path, made what the full reading of the request gives. */
function recheck(
  auth: Auth,
  input: BearerInput,
  verified: string,
  refusal: Refusal,
  options: ResolvedAuthOptions<never>,
): AuthenticateResult | Promise<AuthenticateResult> {
  const read = readBearer(input);
  return "token" in read && read.token === verified ? refusal : verifyRead(auth, read, options);
}

function verifyRead(
  auth: Auth,
  read: BearerResult,
  options: ResolvedAuthOptions<never>,
): AuthenticateResult | Promise<AuthenticateResult> {
  if ("missing" in read) return { error: missingTokenError(options.realm), reason: "no_token" };
  if ("error" in read) return { error: read.error, reason: "invalid_request" };
  return verifyToken(auth, read.token, options);
}

function verifyToken(
  auth: Auth,
  token: string,
  options: ResolvedAuthOptions<never>,
): AuthenticateResult | Promise<AuthenticateResult> {
  let claims: AccessTokenClaims | Promise<AccessTokenClaims>;
  try {
    const now = auth[verifyNow];
    claims =
      now !== undefined
        ? now.call(auth, token, options.strict)
        : auth.verify(token, { strict: options.strict });
  } catch (error) {
    return refusalFor(error);
  }
  if (claims instanceof Promise) return claims.then((c) => checkScopes(c, options), refusalFor);
  return checkScopes(claims, options);
}

function refusalFor(error: unknown): Refusal {
  const answer = httpErrorFor(error);
  if (answer === undefined) throw error;
  const cause = error as AuthError; // httpErrorFor maps AuthErrors only
  return { error: answer, reason: cause.code, cause };
}

function checkScopes(claims: AccessTokenClaims, options: ResolvedAuthOptions<never>): AuthenticateResult {
  if (options.scopes.length > 0) {
    const held = new Set(typeof claims.scope === "string" ? claims.scope.split(" ") : []);
    if (!options.scopes.every((s) => held.has(s)))
      return { error: insufficientScopeError(options.scopes.join(" ")), reason: "insufficient_scope" };
  }
  return { claims };
}

/** The {@link AuthHttpError} of a refusal. */
export function refusalError(refusal: Refusal): AuthHttpError {
  return new AuthHttpError(refusal.error, { cause: refusal.cause, reason: refusal.reason });
}
