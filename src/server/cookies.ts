import type { FastifyReply, FastifyRequest } from "fastify";
import { ApiError } from "./api-error.js";

/** Name of the browser-mode refresh-token cookie (HttpOnly, SameSite=Strict, Path=/auth). */
export const REFRESH_COOKIE = "jr_refresh";
/** The header (and value) a browser request must carry to use the refresh cookie: a CSRF defence. */
export const CSRF_HEADER = "x-requested-with";
/** Value of {@link CSRF_HEADER}. */
export const CSRF_VALUE = "revokit";

/** How the refresh cookie is set. */
export interface CookiePolicy {
  /** Add `Secure`. */
  secure: boolean;
  /** `Max-Age` in seconds: the absolute session life. */
  maxAgeSec: number;
  /** The server's own origin (`scheme://host[:port]` of the issuer). */
  origin: string;
}

/** Sets the refresh cookie. */
export function setRefreshCookie(reply: FastifyReply, token: string, policy: CookiePolicy): void {
  reply.setCookie(REFRESH_COOKIE, token, {
    httpOnly: true,
    sameSite: "strict",
    path: "/auth",
    secure: policy.secure,
    maxAge: policy.maxAgeSec,
  });
}

/** Clears the refresh cookie. */
export function clearRefreshCookie(reply: FastifyReply, policy: CookiePolicy): void {
  reply.clearCookie(REFRESH_COOKIE, {
    httpOnly: true,
    sameSite: "strict",
    path: "/auth",
    secure: policy.secure,
  });
}

/** The refresh cookie's value, when the request carries one. */
export function readRefreshCookie(request: FastifyRequest): string | undefined {
  const value = request.cookies?.[REFRESH_COOKIE];
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

/**
 * The CSRF defence for requests that use the refresh cookie (on top of SameSite=Strict): a request
 * whose `Origin` or `Sec-Fetch-Site` shows another origin is refused; otherwise the request must show
 * it was not a plain cross-site form: `X-Requested-With: revokit`, a JSON `Content-Type` (neither
 * can be sent cross-origin without a CORS preflight, which this server never grants), or an `Origin`
 * / `Sec-Fetch-Site: same-origin` naming this server. Otherwise 403 `invalid_request`.
 */
export function checkCsrf(request: FastifyRequest, policy: CookiePolicy): void {
  const refuse = (why: string) => new ApiError(403, "invalid_request", why);
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") {
    throw refuse("Cross-site requests may not use the refresh cookie");
  }
  const origin = request.headers.origin;
  const sameOrigin = origin !== undefined && isOwnOrigin(origin, request, policy);
  if (origin !== undefined && !sameOrigin)
    throw refuse("Cross-origin requests may not use the refresh cookie");
  const contentType = String(request.headers["content-type"] ?? "").toLowerCase();
  const notAForm =
    request.headers[CSRF_HEADER] === CSRF_VALUE ||
    /^application\/([a-z0-9.+-]*\+)?json\b/.test(contentType) ||
    sameOrigin ||
    site === "same-origin";
  if (!notAForm) {
    throw refuse(
      `Using the refresh cookie requires a JSON body or the header X-Requested-With: ${CSRF_VALUE}`,
    );
  }
}

function isOwnOrigin(origin: string, request: FastifyRequest, policy: CookiePolicy): boolean {
  if (origin === policy.origin) return true;
  try {
    return origin !== "null" && new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}
