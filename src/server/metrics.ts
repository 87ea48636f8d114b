import type { Auth } from "../auth.js";

/** Counters of the standalone server itself (the `Auth` keeps the token counters). */
export class ServerMetrics {
  /** Login attempts by result: `success`, `invalid_credentials`, `account_disabled`, `rate_limited`. */
  readonly logins = new Map<string, number>();
  /** Requests refused by a rate limit, by limit (`ip`, `username`). */
  readonly rateLimited = new Map<string, number>();
  /** Responses by method, route pattern and status. */
  readonly requests = new Map<string, number>();
  /** Registrations. */
  registrations = 0;
  /** When the process started, ms. */
  readonly startedAt = Date.now();
  /** More exposition text, each a function returning complete Prometheus text lines (security events). */
  readonly collectors: (() => string)[] = [];

  /** Adds one to a labelled counter. */
  count(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }
}

/** Escapes a label value (Prometheus text format 0.0.4). */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

class Exposition {
  readonly lines: string[] = [];

  metric(
    name: string,
    type: "counter" | "gauge",
    help: string,
    samples: [Record<string, string>, number][],
  ): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const keys = Object.keys(labels);
      const set =
        keys.length === 0 ? "" : `{${keys.map((k) => `${k}="${label(labels[k] as string)}"`).join(",")}}`;
      this.lines.push(`${name}${set} ${Number.isFinite(value) ? value : 0}`);
    }
  }

  text(): string {
    return `${this.lines.join("\n")}\n`;
  }
}

function split(map: Map<string, number>, names: string[]): [Record<string, string>, number][] {
  return [...map].map(([key, value]) => {
    const parts = key.split("|");
    const labels: Record<string, string> = {};
    names.forEach((n, i) => {
      labels[n] = parts[i] ?? "";
    });
    return [labels, value];
  });
}

/** The `/metrics` body: the node's `Auth` counters, replica state, keys, and the server's counters. */
export function renderMetrics(auth: Auth, server: ServerMetrics): string {
  const m = auth.metrics;
  const status = auth.status();
  const out = new Exposition();
  out.metric(
    "revokit_verify_total",
    "counter",
    "Access-token verifications by result.",
    split(m.verify, ["result"]),
  );
  out.metric(
    "revokit_revocations_total",
    "counter",
    "Revocations by grain (jti, session, user, global) and reason.",
    split(m.revocations, ["grain", "reason"]),
  );
  out.metric(
    "revokit_refresh_reuse_total",
    "counter",
    "Refresh-token reuse detections (theft): sessions revoked.",
    [[{}, m.refreshReuse]],
  );
  out.metric("revokit_refreshes_total", "counter", "Successful refresh-token rotations.", [
    [{}, m.refreshes],
  ]);
  out.metric("revokit_sessions_created_total", "counter", "Sessions created (logins).", [[{}, m.logins]]);
  out.metric("revokit_store_errors_total", "counter", "Store calls that failed.", [[{}, m.storeErrors]]);
  out.metric(
    "revokit_fail_open_total",
    "counter",
    'Verifications let through without a current revocation check (failMode "open").',
    [[{}, m.failOpen]],
  );
  out.metric(
    "revokit_store_checks_total",
    "counter",
    "Verifications answered by the store (stale replica or strict route).",
    [[{}, m.storeChecks]],
  );
  out.metric("revokit_replica_entries", "gauge", "Revocations held by the in-memory replica, by kind.", [
    [{ kind: "jti" }, status.replica.tokens],
    [{ kind: "session" }, status.replica.sessions],
  ]);
  out.metric(
    "revokit_replica_lag_seconds",
    "gauge",
    "Time since the store last confirmed the replica current.",
    [[{}, status.replica.lagMs / 1000]],
  );
  out.metric("revokit_replica_fresh", "gauge", "1 when the replica is within maxStaleness, else 0.", [
    [{}, status.replica.fresh ? 1 : 0],
  ]);
  out.metric("revokit_global_cutoff_seconds", "gauge", "Global revocation cutoff (0 when none).", [
    [{}, status.replica.globalCutoff / 1000],
  ]);
  out.metric("revokit_keys", "gauge", "Keys loaded, by state.", [
    [{ state: "signing" }, status.keys.filter((k) => k.signing).length],
    [{ state: "published" }, status.keys.length],
  ]);
  out.metric(
    "revokit_login_attempts_total",
    "counter",
    "Login attempts at /auth/login by result.",
    split(server.logins, ["result"]),
  );
  out.metric(
    "revokit_rate_limited_total",
    "counter",
    "Requests refused by a login rate limit, by limit.",
    split(server.rateLimited, ["limit"]),
  );
  out.metric("revokit_registrations_total", "counter", "Users registered at /auth/register.", [
    [{}, server.registrations],
  ]);
  out.metric(
    "revokit_http_requests_total",
    "counter",
    "HTTP responses by method, route and status.",
    split(server.requests, ["method", "route", "status"]),
  );
  out.metric("revokit_fail_mode_open", "gauge", 'Whether this node runs with failMode "open".', [
    [{}, auth.failMode === "open" ? 1 : 0],
  ]);
  out.metric(
    "process_start_time_seconds",
    "gauge",
    "Start time of the process since the Unix epoch in seconds.",
    [[{}, Math.floor(server.startedAt / 1000)]],
  );
  return out.text() + server.collectors.map((c) => c()).join("");
}
