import type { preHandlerAsyncHookHandler } from "fastify";
import type { Auth } from "../auth.js";
import type { Store } from "../stores/contract.js";
import type { ClientAuthenticator } from "./clients.js";
import type { CookiePolicy } from "./cookies.js";
import type { ServerMetrics } from "./metrics.js";
import type { LoginLimiter } from "./rate-limit.js";
import type { StatusLists } from "./status-lists.js";
import type { Users } from "./users.js";

/** Everything the routes share; built once by `createServer`. */
export interface ServerContext {
  /** The `Auth` the server issues and verifies with (and whose `storeCall` maps store failures). */
  auth: Auth;
  /**
   * The store the server opened, or was given with its `Auth`: the same store as the `Auth`'s. The
   * server reads it here, never through the `Auth`, and hands each part the contract it needs:
   * `AccountStore` to users, clients and rate limits, `RevocationStore` to the feed, the security
   * events and the status lists.
   */
  store: Store;
  users: Users;
  clients: ClientAuthenticator;
  limiter: LoginLimiter;
  metrics: ServerMetrics;
  /** The issuer, without a trailing slash: base of every URL in the metadata. */
  issuer: string;
  /** `realm` of the challenges. */
  realm: string;
  /** Whether `/auth/register` is open. */
  register: boolean;
  cookie: CookiePolicy;
  /** `requireAuth(auth, { realm })` from `revokit/fastify`. */
  bearer: preHandlerAsyncHookHandler;
  /** Directory of the web page. */
  webRoot: URL;
  now: () => number;
  /** Token Status Lists, when this server mints the tokens (not with an `Auth` passed in). */
  statusLists?: StatusLists;
}
