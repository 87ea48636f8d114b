/** What tests of the standalone server share to talk to it over HTTP. */

/** The body of a token answer (`/auth/login`, `/auth/refresh`, `/oauth/token`) with the refresh token in it. */
export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
  session_id: string;
}

/**
 * The `Authorization: Basic` header of an OAuth client, each part form-encoded first
 * (`application/x-www-form-urlencoded`, RFC 6749 §2.3.1).
 * @example
 * await fetch(`${url}/oauth/introspect`, { method: "POST", headers: basicAuth("rs", secret), body });
 */
export function basicAuth(clientId: string, secret: string): { authorization: string } {
  const form = (part: string) => encodeURIComponent(part).replace(/%20/g, "+");
  return { authorization: `Basic ${Buffer.from(`${form(clientId)}:${form(secret)}`).toString("base64")}` };
}
