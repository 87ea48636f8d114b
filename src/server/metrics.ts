import { Counter, collectDefaultMetrics, Histogram, type Registry } from "prom-client";
import type { Auth } from "../auth.js";
import type { Logger } from "../core/logger.js";
import { collectMetrics } from "../metrics.js";
import { FailureLog } from "./failures.js";

/** Upper bounds (seconds) of the request-duration histogram. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Counters of the standalone server itself (the `Auth` keeps the token counters). */
export class ServerMetrics {
  /** Login attempts by result: `success`, `invalid_credentials`, `account_disabled`, `rate_limited`. */
  readonly logins = new Map<string, number>();
  /** Requests refused by a rate limit, by limit (`ip`, `username`). */
  readonly rateLimited = new Map<string, number>();
  /** Responses by method, route pattern and status. */
  readonly requests = new Map<string, number>();
  /**
   * Failures of the server's background work, by task: `revocation_feed` (the feed's store reads),
   * `security_events` (generating events), `status_lists` (purging old lists).
   */
  readonly backgroundFailures = new Map<string, number>();
  /** Registrations. */
  registrations = 0;
  /** When the process started, ms. */
  readonly startedAt = Date.now();
  /** Response times by method and route pattern (registered on the `/metrics` registry). */
  readonly durations = new Histogram({
    name: "revokit_http_request_duration_seconds",
    help: "Time to answer HTTP requests, by method and route.",
    labelNames: ["method", "route"],
    buckets: DURATION_BUCKETS,
    registers: [],
  });
  /** More metrics, each registered on the `/metrics` registry when it is built (security events). */
  readonly collectors: ((registry: Registry) => void)[] = [];

  /** Adds one to a labelled counter. */
  count(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  /** The {@link FailureLog} of background task `task`: logs to `log`, counts in {@link backgroundFailures}. */
  failureLog(log: Logger, task: string, message: string): FailureLog {
    return new FailureLog(log, task, message, () => this.count(this.backgroundFailures, task));
  }
}

const registries = new WeakMap<ServerMetrics, Registry>();

/** The registry behind `/metrics`: the `Auth`'s metrics, the server's, and the process's. */
export function serverRegistry(auth: Auth, server: ServerMetrics): Registry {
  let registry = registries.get(server);
  if (registry) return registry;
  registry = collectMetrics(auth);
  const registers = [registry];
  const split = (map: Map<string, number>, names: string[]) =>
    [...map].map(([key, value]) => {
      const parts = key.split("|");
      return [Object.fromEntries(names.map((n, i) => [n, parts[i] ?? ""])), value] as const;
    });
  const counter = (
    name: string,
    help: string,
    labelNames: string[],
    read: () => (readonly [object, number])[],
  ) =>
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.inc(labels as Record<string, string>, value);
      },
    });
  counter("revokit_login_attempts_total", "Login attempts at /auth/login by result.", ["result"], () =>
    split(server.logins, ["result"]),
  );
  counter("revokit_rate_limited_total", "Requests refused by a login rate limit, by limit.", ["limit"], () =>
    split(server.rateLimited, ["limit"]),
  );
  counter("revokit_registrations_total", "Users registered at /auth/register.", [], () => [
    [{}, server.registrations],
  ]);
  counter(
    "revokit_background_failures_total",
    "Failures of the server's background work, by task.",
    ["task"],
    () => split(server.backgroundFailures, ["task"]),
  );
  counter(
    "revokit_http_requests_total",
    "HTTP responses by method, route and status.",
    ["method", "route", "status"],
    () => split(server.requests, ["method", "route", "status"]),
  );
  registry.registerMetric(server.durations);
  // process_start_time_seconds, CPU, memory, event-loop lag, file descriptors (prom-client defaults).
  collectDefaultMetrics({ register: registry });

  for (const add of server.collectors) add(registry);
  registries.set(server, registry);
  return registry;
}

/** The `/metrics` body in Prometheus text format (see docs/metrics.md for every metric). */
export function renderMetrics(auth: Auth, server: ServerMetrics): Promise<string> {
  return serverRegistry(auth, server).metrics();
}
