import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Auth } from "./auth.js";
import type { RevocationEntry } from "./core/model.js";

/** Upper bounds (seconds) of the propagation-lag histogram. */
export const PROPAGATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/**
 * Counters an `Auth` keeps. They are plain fields and maps, so the verify path pays one increment;
 * {@link collectMetrics} exposes them through prom-client at scrape time.
 */
export class AuthMetrics {
  /** `verify` outcomes by result: `valid`, `invalid`, `expired`, `revoked_token`, `revoked_session`, `revoked_user`, `revoked_global`, `unavailable`. */
  readonly verify = new Map<string, number>();
  /** Revocations by `grain` and `reason`, keyed `grain|reason`. */
  readonly revocations = new Map<string, number>();
  /** Refresh-token reuse detections (theft). */
  refreshReuse = 0;
  /** Successful refresh rotations. */
  refreshes = 0;
  /** Sessions created. */
  logins = 0;
  /** Store calls that failed. */
  storeErrors = 0;
  /**
   * Background work that failed (key reload, purge, lifetimes read, the revocation feed): each is
   * logged and retried by itself.
   */
  backgroundErrors = 0;
  /** Verifications that let a token through without a current revocation check (`failMode: "open"`). */
  failOpen = 0;
  /** Verifications answered by the store because the replica was stale or the route strict. */
  storeChecks = 0;
  /** Revocations made by other nodes that reached this node's replica through the feed, by kind. */
  readonly received = new Map<string, number>();
  readonly #lagListeners = new Set<(seconds: number) => void>();

  /** Adds one to a labelled counter. */
  count(map: Map<string, number>, key: string, by = 1): void {
    map.set(key, (map.get(key) ?? 0) + by);
  }

  /**
   * Records an entry the change feed brought: one from another node counts in `received` and its age
   * on arrival (`arrivedAt - entry.at`, across two clocks) goes to the propagation-lag histogram.
   */
  feedEntry(entry: RevocationEntry, remote: boolean, arrivedAt: number): void {
    if (!remote) return;
    this.count(this.received, entry.kind);
    const seconds = Math.max(0, arrivedAt - entry.at) / 1000;
    for (const listener of this.#lagListeners) listener(seconds);
  }

  /** Subscribes to propagation-lag observations (seconds); returns the unsubscribe function. */
  onPropagationLag(listener: (seconds: number) => void): () => void {
    this.#lagListeners.add(listener);
    return () => this.#lagListeners.delete(listener);
  }
}

/** Options of {@link collectMetrics}. */
export interface CollectMetricsOptions {
  /** The prom-client registry to register on. Default: a new `Registry` (merge it with yours). */
  registry?: Registry;
  /** Prefix of every metric name. Default `"revokit_"`. */
  prefix?: string;
}

/**
 * Exposes an `Auth`'s metrics through prom-client: counters and gauges read the `Auth` at scrape time
 * (nothing is added to `verify`), and a histogram records revocation propagation lag as entries from
 * other nodes arrive. Every metric is listed in docs/metrics.md.
 * @example
 * import { register } from "prom-client";
 * import { collectMetrics } from "revokit";
 * collectMetrics(auth, { registry: register }); // then serve `await register.metrics()`
 */
export function collectMetrics(auth: Auth, options: CollectMetricsOptions = {}): Registry {
  if (typeof options !== "object" || options === null)
    throw new TypeError("collectMetrics: options must be an object");
  for (const name of Object.keys(options)) {
    if (name !== "registry" && name !== "prefix")
      throw new TypeError(`collectMetrics: unknown option "${name}"`);
  }
  const registry = options.registry ?? new Registry();
  const p = options.prefix ?? "revokit_";
  if (typeof p !== "string" || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$|^$/.test(p))
    throw new TypeError("collectMetrics: prefix must be a valid Prometheus metric name prefix");
  const m = auth.metrics;
  const registers = [registry];

  const counter = (name: string, help: string, labelNames: string[], read: () => [string[], number][]) =>
    new Counter({
      name: p + name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [values, value] of read()) {
          const labels = Object.fromEntries(labelNames.map((l, i) => [l, values[i] ?? ""]));
          this.inc(labels, value);
        }
      },
    });
  const gauge = (name: string, help: string, labelNames: string[], read: () => [string[], number][]) =>
    new Gauge({
      name: p + name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [values, value] of read()) {
          const labels = Object.fromEntries(labelNames.map((l, i) => [l, values[i] ?? ""]));
          this.set(labels, Number.isFinite(value) ? value : 0);
        }
      },
    });
  const split = (map: Map<string, number>): [string[], number][] =>
    [...map].map(([key, value]) => [key.split("|"), value]);
  const one = (value: number): [string[], number][] => [[[], value]];

  counter("verify_total", "Access-token verifications by result.", ["result"], () => split(m.verify));
  counter(
    "revocations_total",
    "Revocations made on this node by grain and reason.",
    ["grain", "reason"],
    () => split(m.revocations),
  );
  counter(
    "revocations_received_total",
    "Revocations made by other nodes, received through the change feed, by kind.",
    ["kind"],
    () => split(m.received),
  );
  counter("refresh_reuse_total", "Refresh-token reuse detections (theft): sessions revoked.", [], () =>
    one(m.refreshReuse),
  );
  counter("refreshes_total", "Successful refresh-token rotations.", [], () => one(m.refreshes));
  counter("sessions_created_total", "Sessions created (logins).", [], () => one(m.logins));
  counter("store_errors_total", "Store calls that failed.", [], () => one(m.storeErrors));
  counter(
    "background_errors_total",
    "Background work that failed and will be retried (key reload, purge, lifetimes read, revocation feed).",
    [],
    () => one(m.backgroundErrors),
  );
  counter(
    "fail_open_total",
    'Verifications let through without a current revocation check (failMode "open").',
    [],
    () => one(m.failOpen),
  );
  counter(
    "store_checks_total",
    "Verifications answered by the store (stale replica or strict route).",
    [],
    () => one(m.storeChecks),
  );
  gauge("replica_entries", "Revocations held by the in-memory replica, by kind.", ["kind"], () => {
    const r = auth.status().replica;
    return [
      [["jti"], r.tokens],
      [["session"], r.sessions],
    ];
  });
  gauge("replica_lag_seconds", "Time since the store last confirmed the replica current.", [], () =>
    one(auth.status().replica.lagMs / 1000),
  );
  gauge("replica_fresh", "1 when the replica is within maxStaleness, else 0.", [], () =>
    one(auth.status().replica.fresh ? 1 : 0),
  );
  gauge("replica_loaded", "1 once the replica's snapshot is loaded, else 0.", [], () =>
    one(auth.status().replica.loaded ? 1 : 0),
  );
  gauge("global_cutoff_seconds", "Global revocation cutoff (0 when none).", [], () =>
    one(auth.status().replica.globalCutoff / 1000),
  );
  gauge("keys", "Keys loaded, by state.", ["state"], () => {
    const keys = auth.status().keys;
    return [
      [["signing"], keys.filter((k) => k.signing).length],
      [["published"], keys.length],
    ];
  });
  gauge("fail_mode_open", 'Whether this node runs with failMode "open".', [], () =>
    one(auth.failMode === "open" ? 1 : 0),
  );
  const lag = new Histogram({
    name: `${p}revocation_propagation_seconds`,
    help: "Time from a revocation on another node to its arrival in this node's replica (across two clocks).",
    buckets: [...PROPAGATION_BUCKETS],
    registers,
  });
  m.onPropagationLag((seconds) => lag.observe(seconds));
  return registry;
}
