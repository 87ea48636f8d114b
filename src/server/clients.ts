import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Auth } from "../auth.js";
import type { AccountStore } from "../stores/contract.js";
import { ApiError, invalidRequest } from "./api-error.js";
import { verifySecret } from "./passwords.js";
import type { LoginLimiter } from "./rate-limit.js";

/** The public client that first-party logins (`/auth/login`) belong to. */
export const DEFAULT_CLIENT = "default";
/** Client ids the CLI accepts: RFC 6749 VSCHAR without spaces or `:` (Basic auth), at most 128. */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9._~+/=@!-]{1,128}$/;

/**
 * What a presented `client_id` may be (RFC 6749 appendix A: VSCHAR, printable ASCII), at most 256:
 * anything else (a NUL byte, a control character, an overlong value) fails authentication before
 * it reaches the store.
 */
const PRESENTED_CLIENT_ID = /^[\x20-\x7e]{1,256}$/;

/** Who is calling an OAuth endpoint. */
export interface ClientIdentity {
  clientId: string;
  /** Whether the client proved a secret. */
  confidential: boolean;
}

const CACHE_TTL_MS = 5 * 60_000;
const CACHE_MAX = 1000;
const CLIENT_SALT_BYTES = 16;

/**
 * Encodes a client secret for the store: `hmac-sha256$salt$mac`, HMAC-SHA-256 keyed by a random
 * per-client salt (base64url). Client secrets are high-entropy (the server generates 256 random
 * bits), so a fast keyed hash is enough and a check costs microseconds, not a password hash.
 * @example
 * const secretHash = hashClientSecret(randomBytes(32).toString("base64url"));
 */
export function hashClientSecret(secret: string): string {
  const salt = randomBytes(CLIENT_SALT_BYTES);
  return `hmac-sha256$${salt.toString("base64url")}$${clientMac(salt, secret).toString("base64url")}`;
}

function clientMac(salt: Buffer, secret: string): Buffer {
  return createHmac("sha256", salt).update(secret, "utf8").digest();
}

/** A parsed `hmac-sha256$...` encoding, or `null`. */
function decodeClientHash(encoded: string): { salt: Buffer; mac: Buffer } | null {
  const parts = encoded.split("$");
  if (parts.length !== 3 || parts[0] !== "hmac-sha256") return null;
  const salt = Buffer.from(parts[1] as string, "base64url");
  const mac = Buffer.from(parts[2] as string, "base64url");
  if (salt.length < 16 || mac.length !== 32) return null;
  return { salt, mac };
}

/** Compared against when the client is unknown or public, so every failure costs the same. */
const DUMMY_CLIENT_HASH = hashClientSecret(randomBytes(32).toString("base64url"));

/**
 * Checks a client secret in constant time. `hmac-sha256$` encodings cost one HMAC; older `scrypt$`
 * encodings (from before) still verify, at their scrypt cost, under the same rate limit.
 */
export async function verifyClientSecret(secret: string, encoded: string): Promise<boolean> {
  const parsed = decodeClientHash(encoded);
  if (parsed) return timingSafeEqual(clientMac(parsed.salt, secret), parsed.mac);
  if (encoded.startsWith("scrypt$")) return (await verifySecret(secret, encoded)).ok;
  const dummy = decodeClientHash(DUMMY_CLIENT_HASH) as { salt: Buffer; mac: Buffer };
  timingSafeEqual(clientMac(dummy.salt, secret), dummy.mac);
  return false;
}

/**
 * Authenticates OAuth clients (RFC 6749 §2.3): `client_secret_basic` (credentials
 * form-urlencoded before base64), `client_secret_post`, or none (a public client sends its
 * `client_id` only; no credentials at all is the public client `default`). Secrets are stored as
 * salted HMAC-SHA-256 and compared in constant time; an unknown `client_id` costs the same as a known
 * one. Checks are rate limited (failures per `client_id` and per IP, counted before the check). A
 * successful check is remembered for a few minutes (keyed by a hash of id, secret and stored hash) so
 * a resource server can introspect every request without a store write each time.
 */
export class ClientAuthenticator {
  readonly #auth: Pick<Auth, "storeCall">;
  readonly #store: AccountStore;
  readonly #realm: string;
  readonly #limiter: LoginLimiter;
  readonly #now: () => number;
  readonly #verified = new Map<string, number>();

  /**
   * The clients live in `store`; `auth.storeCall` turns its failures into 503s. `realm` goes into the
   * `WWW-Authenticate: Basic` challenge of a 401 `invalid_client`.
   */
  constructor(
    auth: Pick<Auth, "storeCall">,
    store: AccountStore,
    realm: string,
    now: () => number,
    limiter: LoginLimiter,
  ) {
    this.#auth = auth;
    this.#store = store;
    this.#realm = realm;
    this.#now = now;
    this.#limiter = limiter;
  }

  /** The 401 `invalid_client` answer, with its Basic challenge. */
  invalidClient(description = "Client authentication failed"): ApiError {
    return new ApiError(401, "invalid_client", description, {
      "www-authenticate": `Basic realm="${this.#realm.replace(/[\\"]/g, "\\$&")}"`,
    });
  }

  /**
   * Identifies the client of a form request from `ip`. Throws 400 `invalid_request` for two
   * authentication methods or a mismatching `client_id`, 401 `invalid_client` for anything that
   * fails to authenticate (a malformed `client_id` included: it never reaches the store), 429 when
   * rate limited.
   */
  async authenticate(
    authorization: string | string[] | undefined,
    form: Record<string, string>,
    ip = "",
  ): Promise<ClientIdentity> {
    if (Array.isArray(authorization)) {
      if (authorization.length > 1)
        throw invalidRequest("The request has more than one Authorization header");
      authorization = authorization[0];
    }
    const postId = form.client_id;
    const postSecret = form.client_secret || undefined;
    if (authorization !== undefined && authorization.trim() !== "") {
      const basic = parseBasic(authorization);
      if (!basic) throw this.invalidClient("Unsupported or malformed client authentication");
      if (postSecret !== undefined)
        throw invalidRequest("The request uses more than one client authentication method");
      if (postId !== undefined && postId !== basic.id)
        throw invalidRequest("client_id does not match the authenticated client");
      if (basic.secret === "") return this.#public(basic.id);
      return this.#confidential(basic.id, basic.secret, ip);
    }
    if (postSecret !== undefined) {
      if (postId === undefined) throw invalidRequest("client_secret requires client_id");
      return this.#confidential(postId, postSecret, ip);
    }
    return this.#public(postId ?? DEFAULT_CLIENT);
  }

  async #public(clientId: string): Promise<ClientIdentity> {
    if (clientId === DEFAULT_CLIENT) return { clientId, confidential: false };
    if (!PRESENTED_CLIENT_ID.test(clientId)) throw this.invalidClient();
    const client = await this.#auth.storeCall(() => this.#store.getClient(clientId));
    if (client && client.secretHash === null) return { clientId, confidential: false };
    throw this.invalidClient();
  }

  async #confidential(clientId: string, secret: string, ip: string): Promise<ClientIdentity> {
    const wellFormed = PRESENTED_CLIENT_ID.test(clientId) && clientId !== DEFAULT_CLIENT;
    const client = wellFormed ? await this.#auth.storeCall(() => this.#store.getClient(clientId)) : null;
    const stored = client?.secretHash ?? null;
    const now = this.#now();
    const key =
      stored === null
        ? null
        : createHash("sha256").update(`${clientId}\0${secret}\0${stored}`).digest("base64url");
    const until = key === null ? undefined : this.#verified.get(key);
    if (key !== null && until !== undefined && until > now) return { clientId, confidential: true };
    // Reserve before checking: however many guesses arrive at once, the limit bounds the checks.
    await this.#limiter.reserveClient(wellFormed ? clientId : "", ip);
    const ok = await verifyClientSecret(secret, stored ?? DUMMY_CLIENT_HASH);
    if (!ok || key === null) {
      await this.#limiter.clientFailed(ip);
      throw this.invalidClient();
    }
    await this.#limiter.clientSucceeded(clientId);
    if (this.#verified.size >= CACHE_MAX) {
      const oldest = this.#verified.keys().next();
      if (!oldest.done) this.#verified.delete(oldest.value);
    }
    this.#verified.set(key, now + CACHE_TTL_MS);
    return { clientId, confidential: true };
  }
}

/** RFC 6749 §2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`. `null` when malformed. */
export function parseBasic(header: string): { id: string; secret: string } | null {
  const match = /^basic +([A-Za-z0-9+/]+=*) *$/i.exec(header.trim());
  if (!match) return null;
  const decoded = Buffer.from(match[1] as string, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return null;
  const id = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  if (id === null || secret === null || id.length === 0) return null;
  return { id, secret };
}

function formDecode(value: string): string | null {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    return null;
  }
}
