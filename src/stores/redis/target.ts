/**
 * Where the Redis store connects, checked and described for messages (host:port, never a password),
 * and why a connection failed, in words.
 */
import type { Cluster, Redis } from "ioredis";
import { errorText } from "../../core/error-text.js";
import { ConfigInvalidError } from "../../core/errors.js";
import { checkOptionNames } from "../../core/options.js";

/**
 * Where a `redisStore` connects:
 * - `{ url }`: one Redis server (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS);
 * - `{ nodes }`: a Redis Cluster, given some of its nodes (`"host:port"`, a URL or `{ host, port }`);
 * - `{ client }`: an ioredis `Redis` or `Cluster` you created (the store does not close it; it opens
 *   one extra connection of its own, a duplicate, for the change feed).
 */
export type RedisTarget =
  | { url: string }
  | { nodes: (string | { host: string; port: number })[] }
  | { client: Redis | Cluster };

/** A cluster node as given in `{ nodes }`. */
export type ClusterNode = string | { host: string; port: number };

/** Throws `ConfigInvalidError` unless `target` is exactly one usable way to reach Redis. */
export function checkTarget(target: RedisTarget): void {
  if (typeof target !== "object" || target === null) {
    throw new ConfigInvalidError("redis", "expected { url }, { nodes } or { client }");
  }
  checkOptionNames("redisStore", target, ["url", "nodes", "client"]);
  const given = Object.entries(target).filter(([, v]) => v !== undefined);
  if (given.length !== 1) throw new ConfigInvalidError("redis", "give exactly one of url, nodes or client");
  if ("url" in target && (typeof target.url !== "string" || target.url.length === 0)) {
    throw new ConfigInvalidError("url", "must be a redis:// or rediss:// URL");
  }
  if ("nodes" in target && (!Array.isArray(target.nodes) || target.nodes.length === 0)) {
    throw new ConfigInvalidError("nodes", "must list at least one cluster node");
  }
  if ("client" in target && typeof (target.client as { call?: unknown } | null)?.call !== "function") {
    throw new ConfigInvalidError("client", "must be an ioredis Redis or Cluster instance");
  }
  if ("client" in target && clientKeyPrefix(target.client)) {
    throw new ConfigInvalidError("client", "an ioredis keyPrefix is not supported: use the prefix option");
  }
}

function clientKeyPrefix(client: Redis | Cluster): string | undefined {
  const options: { keyPrefix?: string; redisOptions?: { keyPrefix?: string } } = client.options;
  return options.keyPrefix || options.redisOptions?.keyPrefix || undefined;
}

/** Where a target points, for messages: host:port of the URL or of each node, never a password. */
export function describeTarget(target: RedisTarget): string {
  const hostPort = (text: string) => {
    try {
      const url = new URL(text.includes("://") ? text : `redis://${text}`);
      return `${url.hostname || "127.0.0.1"}:${url.port || "6379"}`;
    } catch {
      return "(unparsable address)";
    }
  };
  if ("url" in target) return hostPort(target.url);
  if ("nodes" in target)
    return target.nodes.map((n) => (typeof n === "string" ? hostPort(n) : `${n.host}:${n.port}`)).join(", ");
  if (target.client.isCluster) return "(cluster client)";
  const o = target.client.options;
  const host = "host" in o && typeof o.host === "string" ? o.host : "127.0.0.1";
  const port = "port" in o && typeof o.port === "number" ? o.port : 6379;
  return `${host}:${port}`;
}

/** A cluster node as ioredis wants it. */
export function clusterNode(node: ClusterNode): { host: string; port: number } {
  if (typeof node !== "string") return node;
  const url = new URL(node.includes("://") ? node : `redis://${node}`);
  return { host: url.hostname, port: Number(url.port || 6379) };
}

/** The credentials of a node given as a URL (ioredis takes one set for the whole cluster). */
export function clusterAuth(node: ClusterNode): { username?: string; password?: string } {
  if (typeof node !== "string" || !node.includes("://")) return {};
  const url = new URL(node);
  return url.password
    ? { username: decodeURIComponent(url.username) || undefined, password: decodeURIComponent(url.password) }
    : {};
}

function codeOf(error: Error): string {
  const code: unknown = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : "";
}

/**
 * Why a Redis call or connection failed, in words: refused, authentication, TLS, timeout, DNS. ioredis
 * reports a dropped connection as "Connection is closed."; the client's last error says why. Socket
 * messages name an address and a reason, never a password; anything else is described by its name.
 * @example connectionProblem(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6379"), { code: "ECONNREFUSED" }))
 * // "connection refused (ECONNREFUSED): is Redis running there?"
 */
export function connectionProblem(error: unknown, lastError?: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  const candidates = [error, lastError, cause].filter((e): e is Error => e instanceof Error);
  for (const e of candidates) {
    const code = codeOf(e);
    const text = e.message;
    if (code === "ECONNREFUSED" || /ECONNREFUSED/.test(text))
      return "connection refused (ECONNREFUSED): is Redis running there?";
    if (/WRONGPASS|NOAUTH|invalid username-password|AUTH.*failed|NOPERM/i.test(text))
      return `authentication failed (${/WRONGPASS|NOAUTH|NOPERM/.exec(text)?.[0] ?? "AUTH"}): check the user and password in the URL`;
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `host not found (${code})`;
    if (/^ERR_TLS|^ERR_SSL|CERT|SSL|TLS|self[- ]signed|EPROTO/i.test(`${code} ${text}`))
      return `TLS failed (${code || "TLS"}): ${socketText(e)}`;
    if (code === "ETIMEDOUT" || /timed? ?out|within \d+ ms/i.test(text))
      return `timed out (${socketText(e)})`;
    if (code === "ECONNRESET" || code === "EPIPE") return `connection reset (${code})`;
  }
  const first = candidates[0];
  if (!first) return errorText(error);
  const last = candidates.find((e) => e !== first && !isClosed(e));
  return last && isClosed(first) ? `${socketText(first)} (${socketText(last)})` : socketText(first);
}

function isClosed(error: Error): boolean {
  return /Connection is closed/.test(error.message);
}

/** A socket or client error's text (names an address and a reason), with any URL credentials removed. */
function socketText(error: Error): string {
  return errorText(error, { withMessage: true }).replace(/(\w+:\/\/)[^@\s/]*@/g, "$1***@");
}

/** Whether the server refused the credentials. */
export function isAuthFailure(error: unknown): boolean {
  return error instanceof Error && /WRONGPASS|NOAUTH|invalid username-password/i.test(error.message);
}
