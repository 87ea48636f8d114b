import type { preHandlerAsyncHookHandler } from "fastify";
import type { Auth } from "../auth.js";
import type { ClientAuthenticator } from "./clients.js";
import type { CookiePolicy } from "./cookies.js";
import type { ServerMetrics } from "./metrics.js";
import type { LoginLimiter } from "./rate-limit.js";
import type { StatusLists } from "./status-lists.js";
import type { Users } from "./users.js";

/** Everything the routes share; built once by `createServer`. */
export interface ServerContext {
  auth: Auth;
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
