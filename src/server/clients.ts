import { createHash } from "node:crypto";
import type { Auth } from "../auth.js";
import { ApiError, invalidRequest } from "./api-error.js";
import { DEFAULT_SCRYPT, DummyHash, type ScryptParams, verifySecret } from "./passwords.js";

/** The public client that first-party logins (`/auth/login`) belong to. */
export const DEFAULT_CLIENT = "default";
/** Client ids the CLI accepts: RFC 6749 VSCHAR without spaces or `:` (Basic auth), at most 128. */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9._~+/=@!-]{1,128}$/;

/** Who is calling an OAuth endpoint. */
export interface ClientIdentity {
  clientId: string;
  /** Whether the client proved a secret. */
  confidential: boolean;
}

const CACHE_TTL_MS = 5 * 60_000;
const CACHE_MAX = 1000;

/**
 * Authenticates OAuth clients (RFC 6749 §2.3): `client_secret_basic` (credentials
 * form-urlencoded before base64), `client_secret_post`, or none (a public client sends its
 * `client_id` only; no credentials at all is the public client `default`). Secrets are stored as
 * scrypt hashes and compared in constant time; a successful check is remembered for a few minutes
 * (keyed by a hash of id, secret and stored hash) so a resource server can introspect every request.
 */
export class ClientAuthenticator {
  readonly #auth: Auth;
  readonly #realm: string;
  readonly #params: ScryptParams;
  readonly #dummy: DummyHash;
  readonly #now: () => number;
  readonly #verified = new Map<string, number>();

  /** `realm` goes into the `WWW-Authenticate: Basic` challenge of a 401 `invalid_client`. */
  constructor(auth: Auth, realm: string, now: () => number, params: ScryptParams = DEFAULT_SCRYPT) {
    this.#auth = auth;
    this.#realm = realm;
    this.#now = now;
    this.#params = params;
    this.#dummy = new DummyHash(params);
  }

  /** The 401 `invalid_client` answer, with its Basic challenge. */
  invalidClient(description = "Client authentication failed"): ApiError {
    return new ApiError(401, "invalid_client", description, {
      "www-authenticate": `Basic realm="${this.#realm.replace(/[\\"]/g, "\\$&")}"`,
    });
  }

  /**
   * Identifies the client of a form request. Throws 400 `invalid_request` for two authentication
   * methods or a mismatching `client_id`, 401 `invalid_client` for anything that fails to authenticate.
   */
  async authenticate(
    authorization: string | string[] | undefined,
    form: Record<string, string>,
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
      return this.#confidential(basic.id, basic.secret);
    }
    if (postSecret !== undefined) {
      if (postId === undefined) throw invalidRequest("client_secret requires client_id");
      return this.#confidential(postId, postSecret);
    }
    return this.#public(postId ?? DEFAULT_CLIENT);
  }

  async #public(clientId: string): Promise<ClientIdentity> {
    if (clientId === DEFAULT_CLIENT) return { clientId, confidential: false };
    const client = await this.#auth.storeCall(() => this.#auth.store.getClient(clientId));
    if (client && client.secretHash === null) return { clientId, confidential: false };
    throw this.invalidClient();
  }

  async #confidential(clientId: string, secret: string): Promise<ClientIdentity> {
    const client =
      clientId === DEFAULT_CLIENT
        ? null
        : await this.#auth.storeCall(() => this.#auth.store.getClient(clientId));
    if (!client || client.secretHash === null) {
      await this.#dummy.burn(secret);
      throw this.invalidClient();
    }
    const now = this.#now();
    const key = createHash("sha256")
      .update(`${clientId}\0${secret}\0${client.secretHash}`)
      .digest("base64url");
    const until = this.#verified.get(key);
    if (until !== undefined && until > now) return { clientId, confidential: true };
    const { ok } = await verifySecret(secret, client.secretHash, this.#params);
    if (!ok) throw this.invalidClient();
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
