// `npm run bench`: every performance target of revokit, measured side by side in one run on this machine,
// printed as one Markdown table (stdout) with short notes; progress goes to stderr.
//
//   npm run bench                         everything (a few minutes)
//   npm run bench -- verify replica       only some sections: verify replica http propagation coldstart refresh
//   npm run bench -- --quick              smaller sizes and shorter runs, for a quick look while developing
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { benchColdStart } from "./lib/coldstart.mjs";
import { log, rate, ratio, status } from "./lib/common.mjs";
import { benchHttp, FRAMEWORKS } from "./lib/http.mjs";
import { benchPropagation } from "./lib/propagation.mjs";
import { benchRefresh } from "./lib/refresh.mjs";
import { benchReplica } from "./lib/replica.mjs";
import { startPostgres, startRedis } from "./lib/servers.mjs";
import { storeModule } from "./lib/stores.mjs";
import { ALGS, benchVerify } from "./lib/verify.mjs";

const SECTIONS = ["verify", "replica", "http", "propagation", "coldstart", "refresh"];
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const unknown = args.filter((a) => a !== "--quick" && !SECTIONS.includes(a));
if (unknown.length > 0) {
  process.stderr.write(`unknown section(s): ${unknown.join(", ")}; sections: ${SECTIONS.join(" ")}\n`);
  process.exit(2);
}
const only = args.filter((a) => SECTIONS.includes(a));
const want = (s) => only.length === 0 || only.includes(s);

const SIZES = quick
  ? {
      rounds: 3,
      ms: 100,
      users: 4000,
      httpSeconds: 1,
      httpUsers: 2000,
      propagation: 20,
      cold: 100_000,
      refreshSeconds: 1,
    }
  : {
      rounds: 5,
      ms: 200,
      users: 20_000,
      httpSeconds: 3,
      httpUsers: 10_000,
      propagation: 100,
      cold: 1_000_000,
      refreshSeconds: 2.5,
    };

/** One line of the table: area, measure, value, ratio, target, status. */
const rows = [];
const notes = [];
const row = (area, measure, value, vs = "", target = "", state = "") =>
  rows.push([area, measure, value, vs, target, state]);
const ms = (x) =>
  x >= 1000 ? `${(x / 1000).toFixed(2)} s` : x >= 10 ? `${x.toFixed(0)} ms` : `${x.toFixed(1)} ms`;

/** Runs one measurement of a store; a failure becomes a row of the table instead of ending the run. */
async function attempt(fn) {
  try {
    return await fn();
  } catch (error) {
    log(`failed: ${error?.stack ?? error}`);
    return error instanceof Error ? error : new Error(String(error));
  }
}

const started = performance.now();
const tmp = mkdtempSync(join(tmpdir(), "revokit-bench-"));
let redis;
let postgres;
const STORES = ["redis", "postgres", "sqlite"];
const available = {};

try {
  // ---- 1. verification per algorithm -------------------------------------------------------------
  if (want("verify")) {
    const v = await benchVerify({ rounds: SIZES.rounds, ms: SIZES.ms, users: SIZES.users });
    for (const alg of ALGS) {
      for (const mix of ["one token", "many users"]) {
        const of = (name) => v.rows.find((r) => r.alg === alg && r.mix === mix && r.name === name)?.ops;
        const floor = of("floor");
        const jose = of("jose.jwtVerify");
        for (const r of v.rows.filter((x) => x.alg === alg && x.mix === mix)) {
          const vsFloor = r.ops / floor;
          let target = "";
          let state = "";
          if (r.name.startsWith("ours")) {
            target = ">= 0.90x floor; beats jose";
            const f = status(vsFloor, 0.9, { higher: true, format: (d) => `${d.toFixed(2)}x` });
            const j = r.ops > jose ? `beats jose ${ratio(r.ops / jose)}` : "**does not beat jose**";
            state = `${f}; ${j}`;
          }
          const label = mix === "one token" ? "one token" : `${v.users.toLocaleString("en-US")} users`;
          row(`verify ${alg}`, `${label}: ${r.name}`, rate(r.ops), `${ratio(vsFloor)} floor`, target, state);
        }
      }
    }
    notes.push(
      `verify: "one token": one token verified again and again; "${v.users.toLocaleString("en-US")} users": ${v.users.toLocaleString("en-US")} distinct tokens verified in turn, each contender walking through all of them across its runs (the floor verifies the same mix). Medians of ${SIZES.rounds} rounds of ${SIZES.ms} ms per contender, contenders interleaved. The replicas held ${v.replicaSize.toLocaleString("en-US")} active jti revocations (fresh: ${v.fresh}). The default \`verifyCache\` holds 10,000 tokens: a repeated token skips its signature check (revocation is still checked on every call); once full it admits one new token in eight, so with more users than entries it keeps a stable share of them (about half here, when the runs go round the mix) and every other token costs the cache-off path. "cache off" is that miss path alone.`,
    );
  }

  // ---- 2. the replica at 1M entries --------------------------------------------------------------
  if (want("replica")) {
    const { compact, reserved, map } = await benchReplica();
    for (const [how, m] of [
      ["filled by the feed", compact],
      ["loaded from a snapshot", reserved],
    ]) {
      const bytes = status(m.bytes, 48, { higher: false, unit: " B", digits: 1 });
      const lookup = status(m.lookupNs, 999, { higher: false, unit: " ns", digits: 0 });
      row(
        "replica 1M",
        `bytes per entry, compact index (default), ${how}`,
        `${m.bytes.toFixed(1)} B`,
        "",
        "<= 48 B",
        bytes,
      );
      row(
        "replica 1M",
        `lookup, compact index (default), ${how}`,
        `${m.lookupNs.toFixed(0)} ns`,
        "",
        "< 1 µs",
        lookup,
      );
    }
    row(
      "replica 1M",
      "bytes per entry, Map index (before)",
      `${map.bytes.toFixed(1)} B`,
      `${ratio(map.bytes / compact.bytes)} compact`,
    );
    row(
      "replica 1M",
      "lookup, Map index (before)",
      `${map.lookupNs.toFixed(0)} ns`,
      `${ratio(map.lookupNs / compact.lookupNs)} compact`,
    );
    notes.push(
      "replica: heap plus ArrayBuffer growth after full GCs, divided by 1,000,000 entries (revokit ids: 22 base64url characters); lookups of fresh key strings, half present, half absent.",
    );
  }

  // ---- servers for the multi-process sections ----------------------------------------------------
  if (want("http") || want("propagation") || want("coldstart") || want("refresh")) {
    for (const kind of STORES) available[kind] = (await storeModule(kind)) !== undefined;
    redis = await startRedis();
    if (!redis) notes.push("redis-server not installed: Redis figures and the HTTP recipe not measured.");
    if (available.postgres) {
      postgres = await startPostgres();
      if (!postgres)
        notes.push("PostgreSQL not installed (no initdb/pg_ctl, no DATABASE_URL): not measured.");
    }
  }
  const targetFor = (kind, name) =>
    kind === "redis"
      ? redis && { url: redis.url, prefix: `bench-${name}:` }
      : kind === "postgres"
        ? postgres && { url: postgres.url, schema: `bench_${name}` }
        : kind === "sqlite"
          ? { path: join(tmp, `${name}.db`) }
          : {};
  const missing = (kind) =>
    !available[kind] ? "not measured: store missing" : "not measured: server missing";

  // ---- 3. HTTP -----------------------------------------------------------------------------------
  if (want("http")) {
    if (!redis || !available.redis) {
      row("http", "all frameworks", "not measured: redis missing");
    } else {
      const { rows: h, users } = await benchHttp({
        redisUrl: redis.url,
        seconds: SIZES.httpSeconds,
        users: SIZES.httpUsers,
      });
      const usersText = `${users.toLocaleString("en-US")} users`;
      for (const fw of FRAMEWORKS) {
        for (const many of [false, true]) {
          const of = (path) => h.find((r) => r.framework === fw && r.path === path && r.many === many);
          const none = of("/none");
          const recipe = of("/recipe");
          for (const r of h.filter((x) => x.framework === fw && x.many === many)) {
            let target = "";
            let state = "";
            if (r.path === "/auth") {
              const vs = r.rps / none.rps;
              target = ">= 0.95x no check at all; >> recipe";
              const met = status(vs, 0.95, { higher: true, format: (d) => `${d.toFixed(2)}x` });
              state = `${met}; ${ratio(r.rps / recipe.rps)} recipe`;
            }
            const result = `${rate(r.rps, " req/s")}, p99 ${r.p99} ms, ${r.cpuUs.toFixed(0)} µs CPU/req`;
            const measure = many ? `${usersText}: ${r.route}` : r.route;
            row(`http ${fw}`, measure, result, `${ratio(r.rps / none.rps)} no check`, target, state);
          }
        }
      }
      notes.push(
        `http: autocannon on loopback, 10 connections, ${SIZES.httpSeconds} s per route (medians of 3 interleaved rounds) after a 0.5 s warm-up; the server in its own process, autocannon in this one (one core each). requireAuth runs on a Redis-backed Auth (EdDSA). Rows without a user count: one token for every request (a client reuses its token: with the default cache, every request after the first skips the signature check). "${usersText}": ${usersText} logged in, their tokens sent round-robin, one per request, to every route of those rows (no check at all included). "JWT verified, no revocation check" is the same requireAuth on an Auth whose revocation index is switched off. CPU/req is the server process's CPU time per request. The recipe is jose.jwtVerify against the JWKS plus one awaited \`EXISTS\` on the same Redis.`,
      );
    }
  }

  // ---- 4. propagation ----------------------------------------------------------------------------
  if (want("propagation")) {
    for (const kind of STORES) {
      const target = available[kind] && targetFor(kind, "prop");
      if (!target) {
        row("propagation", kind, missing(kind), "", "p99 <= 50 ms");
        continue;
      }
      const p = await attempt(() => benchPropagation(kind, target, SIZES.propagation));
      if (p instanceof Error) {
        row("propagation", kind, `failed: ${p.message}`, "", "p99 <= 50 ms", "**failed**");
        continue;
      }
      row(
        "propagation",
        `${kind}: revoke on one node, refused on 3 other processes`,
        `p99 ${ms(p.p99)} (p50 ${ms(p.p50)}, max ${ms(p.max)}, n=${p.samples})`,
        "",
        "p99 <= 50 ms",
        status(p.p99, 50, { higher: false, unit: " ms", digits: 1 }),
      );
    }
    notes.push(
      "propagation: from the start of `logout()` on a fourth node to the parent receiving each node's report that the session's token is refused (each node verifies every millisecond; IPC included).",
    );
  }

  // ---- 5. cold start -----------------------------------------------------------------------------
  if (want("coldstart")) {
    for (const kind of STORES) {
      const target = available[kind] && targetFor(kind, "cold");
      if (!target) {
        row("cold start", kind, missing(kind), "", "loaded <= 1 s");
        continue;
      }
      const c = await attempt(() => benchColdStart(kind, target, SIZES.cold));
      if (c instanceof Error) {
        row("cold start", kind, `failed: ${c.message}`, "", "loaded <= 1 s", "**failed**");
        continue;
      }
      const size = `${SIZES.cold.toLocaleString("en-US")} active revocations`;
      row(
        "cold start",
        `${kind}: new node, ${size}, createAuth to first verify`,
        ms(c.ms),
        "",
        "serves at once",
        "reported",
      );
      row(
        "cold start",
        `${kind}: new node, ${size}, createAuth to replica fully loaded`,
        ms(c.loadedMs),
        "",
        "<= 1 s",
        status(c.loadedMs / 1000, 1, { higher: false, unit: " s", digits: 2 }),
      );
    }
    notes.push(
      "cold start: a new process runs createAuth on a store already holding the revocations (seeded in bulk: SQL for SQLite and PostgreSQL, the store's own addRevocation for Redis) and verifies one token: the figure is from the start of createAuth to the end of that verify, which the store answers while the replica loads its snapshot in the background; then the time until the replica is fully loaded (auth.ready()).",
    );
  }

  // ---- 6. refresh rotations ----------------------------------------------------------------------
  if (want("refresh")) {
    for (const kind of ["memory", ...STORES]) {
      const target = kind === "memory" ? {} : available[kind] && targetFor(kind, "refresh");
      if (!target) {
        row("refresh", kind, missing(kind), "", "reported");
        continue;
      }
      const r = await attempt(() => benchRefresh(kind, target, SIZES.refreshSeconds));
      if (r instanceof Error) {
        row("refresh", kind, `failed: ${r.message}`, "", "reported", "**failed**");
        continue;
      }
      row(
        "refresh",
        `${kind}: rotations per second (32 sessions in parallel)`,
        rate(r),
        "",
        "reported",
        "reported",
      );
    }
    notes.push(
      "refresh: `auth.refresh` with default store options (SQLite: synchronous=full, every commit synced; PostgreSQL: the bench's private cluster runs with fsync off).",
    );
  }
} finally {
  await redis?.stop();
  await postgres?.stop();
  rmSync(tmp, { recursive: true, force: true });
}

const cpu = cpus();
const header = ["Area", "Measure", "Result", "Ratio", "Target", "Status"];
const lines = [
  `revokit bench, ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, Node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? "unknown CPU"}${quick ? " (--quick: reduced sizes)" : ""}`,
  "",
  `| ${header.join(" | ")} |`,
  `|${header.map(() => "---").join("|")}|`,
  ...rows.map((r) => `| ${r.join(" | ")} |`),
  "",
  ...notes.map((n) => `- ${n}`),
  `- total bench time: ${((performance.now() - started) / 1000).toFixed(0)} s.`,
];
process.stdout.write(`${lines.join("\n")}\n`);
log("done");
