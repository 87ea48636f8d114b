// `npm run bench`: every performance target, measured side by side in one run on this machine,
// printed as one Markdown table (stdout) with short notes; progress goes to stderr.
//
//   npm run bench                         everything (a few minutes)
//   npm run bench -- verify replica       only some sections: verify replica http propagation coldstart refresh logoutall remote
//   npm run bench -- --quick              smaller sizes and shorter runs, for a quick look while developing
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { benchColdStart } from "./lib/coldstart.mjs";
import { log, rate, ratio, status } from "./lib/common.mjs";
import { benchHttp, FRAMEWORKS, ROUNDS as HTTP_ROUNDS } from "./lib/http.mjs";
import { benchLogin, benchPasswordHash } from "./lib/login.mjs";
import { benchConcurrentRefresh, benchLogoutAll } from "./lib/logout-all.mjs";
import { benchPropagation } from "./lib/propagation.mjs";
import { benchRefresh } from "./lib/refresh.mjs";
import { benchRemote, benchRemoteColdStart, benchStatusListSize } from "./lib/remote.mjs";
import { benchReplica } from "./lib/replica.mjs";
import { startPostgres, startRedis } from "./lib/servers.mjs";
import { storeModule } from "./lib/stores.mjs";
import { ALGS, benchVerify } from "./lib/verify.mjs";

const SECTIONS = [
  "verify",
  "replica",
  "http",
  "propagation",
  "coldstart",
  "refresh",
  "login",
  "logoutall",
  "remote",
];
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
      httpSeconds: 0.3,
      httpUsers: 2000,
      propagation: 20,
      cold: 100_000,
      refreshSeconds: 1,
      logoutSessions: 2_000,
      hashes: 3,
    }
  : {
      rounds: 9,
      ms: 150,
      users: 20_000,
      httpSeconds: 1,
      httpUsers: 10_000,
      propagation: 100,
      cold: 1_000_000,
      refreshSeconds: 2.5,
      logoutSessions: 100_000,
      hashes: 10,
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
        const jose = of("jose.jwtVerify");
        for (const r of v.rows.filter((x) => x.alg === alg && x.mix === mix)) {
          const vsFloor = r.vsFloor;
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
      `verify: "one token": one token verified again and again; "${v.users.toLocaleString("en-US")} users": ${v.users.toLocaleString("en-US")} distinct tokens verified in turn, each contender walking through all of them across its runs (the floor verifies the same mix). Medians of ${SIZES.rounds} rounds of ${SIZES.ms} ms per contender, contenders interleaved; the ratio to the floor is the median of the rounds' ratios (paired within each round). The replicas held ${v.replicaSize.toLocaleString("en-US")} active jti revocations (fresh: ${v.fresh}). "ours verifySync" is \`auth.verifySync(token)\` (the answer without a promise, as the middleware gets it); "ours" is \`await auth.verify(token)\`, which adds one promise per call. The default \`verifyCache\` holds 10,000 tokens: a repeated token skips its signature check (revocation is still checked on every call); once full it admits one new token in eight, so with more users than entries it keeps a stable share of them (about half here, when the runs go round the mix) and every other token costs the cache-off path. Each cached contender runs on its own node and first sees the whole mix once (a node up for a while), so its many-users rows are the steady state. "cache off" is the miss path alone.`,
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
  if (want("http") || want("propagation") || want("coldstart") || want("refresh") || want("logoutall")) {
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
      const {
        rows: h,
        serverBound,
        wrk,
        users,
        pinned,
        own,
      } = await benchHttp({
        redisUrl: redis.url,
        seconds: SIZES.httpSeconds,
        users: SIZES.httpUsers,
      });
      const usersText = `${users.toLocaleString("en-US")} users`;
      // revokit's own part of a request, against the CPU a no-check request costs each framework.
      const noneCpu = FRAMEWORKS.map(
        (fw) => h.find((r) => r.framework === fw && r.path === "/none" && !r.many).cpuUs,
      );
      const share = (us) =>
        `${((100 * us) / Math.max(...noneCpu)).toFixed(1)}% to ${((100 * us) / Math.min(...noneCpu)).toFixed(1)}%`;
      row(
        "http in process",
        `requireAuth's own work per request (bearer, cache hit, revocation check), one token / ${usersText}`,
        `${own.one.toFixed(2)} µs / ${own.many.toFixed(2)} µs`,
        `${share(own.one)} / ${share(own.many)} of a no-check request's CPU`,
        "reported",
        "reported",
      );
      for (const fw of FRAMEWORKS) {
        for (const many of [false, true]) {
          const of = (path) => h.find((r) => r.framework === fw && r.path === path && r.many === many);
          const recipe = of("/recipe");
          for (const r of h.filter((x) => x.framework === fw && x.many === many)) {
            let target = "";
            let state = "";
            if (r.path === "/auth" || r.path === "/with") {
              target = ">= 0.95x no check at all; >> recipe";
              const met = status(r.vsNone, 0.95, { higher: true, format: (d) => `${d.toFixed(2)}x` });
              const noop = of("/noop");
              const besideNoop = noop ? `; ${ratio(r.vsNone / noop.vsNone)} a do-nothing middleware` : "";
              state = `${met}; ${ratio(r.rps / recipe.rps)} recipe${besideNoop}`;
            }
            const result = `${rate(r.rps, " req/s")}, p99 ${r.p99} ms, ${r.cpuUs.toFixed(0)} µs CPU/req`;
            const measure = many ? `${usersText}: ${r.route}` : r.route;
            row(`http ${fw}`, measure, result, `${ratio(r.vsNone)} no check`, target, state);
          }
        }
        for (const r of serverBound.filter((x) => x.framework === fw)) {
          const checked = r.path === "/auth" || r.path === "/with";
          row(
            `http ${fw} server-bound`,
            r.many ? `${usersText}: ${r.route}` : r.route,
            `${rate(r.rps, " req/s")}, ${r.cpuUs.toFixed(1)} µs CPU/req`,
            `${ratio(r.vsNone)} no check`,
            checked ? ">= 0.95x no check at all" : "",
            checked ? status(r.vsNone, 0.95, { higher: true, format: (d) => `${d.toFixed(2)}x` }) : "",
          );
        }
      }
      if (!wrk) row("http server-bound", "all frameworks", "not measured: wrk not installed");
      notes.push(
        `http: autocannon on loopback, 10 connections, ${HTTP_ROUNDS} interleaved rounds in which every route runs ${SIZES.httpSeconds} s, after a 0.5 s warm-up of each; req/s, p99 and CPU/req are medians of the rounds, and the ratio to "no check at all" is the median of the rounds' ratios (each route against the no-check route of the same mix in the same round, so that drift in the machine's speed between rounds cancels out). The server runs in its own process, autocannon in this one${pinned ? ", each pinned to a CPU of its own (taskset)" : " (not pinned: taskset or a second CPU is missing)"}. requireAuth and withAuth run on one Redis-backed Auth with the default algorithm (RS256); the recipe verifies the same tokens. Rows without a user count: one token for every request (a client reuses its token: with the default cache, every request after the first skips the signature check). "${usersText}": ${usersText} logged in, their tokens sent round-robin, one per request, to every route of those rows (no check at all included); before those rows every user's token went once through the cached routes (a server up for a while: each active user has presented their token before), so "cache on" is the steady state with as many users as the cache holds, and "cache off" is what every first request of a token costs. "a middleware that does nothing" is the framework's own cost of one middleware on the route (Express \`(req, res, next) => next()\`, a Fastify async \`preHandler\`, Hono \`(c, next) => next()\`), which requireAuth pays too; withAuth is the same check inside the route's one handler, which pays no such step. "JWT verified, no revocation check" is the same requireAuth on an Auth whose revocation index is switched off. CPU/req is the server process's CPU time per request. The recipe is jose.jwtVerify against the JWKS plus one awaited \`EXISTS\` on the same Redis. "http in process" is what requireAuth itself does per request (reading the bearer header, the verified-token cache, the revocation check), timed in this process on fresh header strings in the steady state, beside the CPU a request with no check costs the three frameworks.`,
      );
      if (wrk) {
        notes.push(
          `http server-bound: the routes with and without the check again, driven by wrk (one thread, 10 connections${pinned ? ", pinned to the CPU autocannon used" : ""}) instead of autocannon: wrk sends faster than the server answers, so the server's CPU is saturated and the ratio of two routes is the inverse ratio of what a request costs the server (autocannon, in Node on one CPU, sends at about the rate Fastify and Hono answer, so its rows mix the client's pace into the ratio). The same ${HTTP_ROUNDS} interleaved rounds of ${Math.max(1, Math.round(SIZES.httpSeconds))} s, medians and paired ratios; the many-users rows send the users' tokens round-robin, one per request.`,
        );
      }
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
        `${kind}: new node, ${size}, createAuth to replica fully loaded (from a checkpoint)`,
        ms(c.loadedMs),
        "",
        "<= 1 s",
        status(c.loadedMs / 1000, 1, { higher: false, unit: " s", digits: 2 }),
      );
      row(
        "cold start",
        `${kind}: new node, ${size}, createAuth to replica fully loaded (no checkpoint yet: every revocation read)`,
        ms(c.full.loadedMs),
        "",
        "reported",
        "reported",
      );
    }
    notes.push(
      "cold start: a new process runs createAuth on a store already holding the revocations (seeded in bulk: SQL for SQLite and PostgreSQL, the store's own addRevocation for Redis) and verifies one token: the figure is from the start of createAuth to the end of that verify, which the store answers while the replica loads its snapshot in the background; then the time until the replica is fully loaded (auth.ready()). The first node to join finds no checkpoint and reads every revocation from the store; it then writes a checkpoint (running nodes do so every `checkpointInterval`, 5 minutes by default), and the node measured next loads that checkpoint and the feed after it.",
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
  // ---- 6b. login and refresh per algorithm, password hashing ------------------------------------------
  if (want("login")) {
    const l = await benchLogin({ seconds: SIZES.refreshSeconds / 2, rounds: quick ? 1 : 2 });
    const rs = l.find((r) => r.alg === "RS256");
    for (const r of l) {
      const vs = r === rs ? "" : `RS256 ${ratio(rs.login / r.login)} / ${ratio(rs.refresh / r.refresh)}`;
      row(
        `login ${r.alg}`,
        "logins / refreshes per second (memory store, 32 in parallel)",
        `${rate(r.login)} / ${rate(r.refresh)}`,
        vs,
        "reported",
        "reported",
      );
    }
    for (const h of await benchPasswordHash({ n: SIZES.hashes })) {
      row(
        "password hash",
        h.name,
        `${h.ms.toFixed(0)} ms per hash`,
        `${h.perSecond.toFixed(1)} hashes/s (2 at once)`,
        "reported",
        "reported",
      );
    }
    notes.push(
      "login: `auth.login` (a session plus a signed access token) and `auth.refresh` on the memory store, so the difference between rows is the signing; the ratio is RS256's rate over that row's (below 1x: RS256 is slower). The server's /auth/login adds one password hash, which dominates.",
    );
  }

  // ---- 7. the user grain: logout-all as one write, concurrent redemptions --------------------------
  if (want("logoutall")) {
    for (const kind of ["memory", ...STORES]) {
      const target = kind === "memory" ? {} : available[kind] && targetFor(kind, "logoutall");
      if (!target) {
        row("logout-all", kind, missing(kind), "", "<= 5 ms, one write");
        continue;
      }
      const n = SIZES.logoutSessions.toLocaleString("en-US");
      const l = await attempt(() =>
        benchLogoutAll(kind, target, { sessions: SIZES.logoutSessions, rounds: 20 }),
      );
      if (l instanceof Error) {
        row("logout-all", kind, `failed: ${l.message}`, "", "<= 5 ms, one write", "**failed**");
      } else {
        const one = l.feedEntries === 1 ? "one write" : `**${l.feedEntries} feed entries per logout-all**`;
        const stall = l.unavailable === 0 ? "no 503" : `**${l.unavailable} unavailable**`;
        row(
          "logout-all",
          `${kind}: one user with ${n} sessions, store write (p50 / p99 / max of 20)`,
          `${ms(l.writeMs.p50)} / ${ms(l.writeMs.p99)} / ${ms(l.writeMs.max)}`,
          "",
          "<= 5 ms, one write, no 503 elsewhere",
          `median ${status(l.writeMs.p50, 5, { higher: false, unit: " ms", digits: 1 })}; ${one}; ${stall}`,
        );
        row(
          "logout-all",
          `${kind}: another node verifying in strict mode meanwhile`,
          `${l.verifies.toLocaleString("en-US")} verifies, p99 ${ms(l.verifyP99Ms)}, ${l.unavailable} unavailable`,
        );
      }
      const c = await attempt(() => benchConcurrentRefresh(kind, target, { seconds: SIZES.refreshSeconds }));
      if (c instanceof Error)
        row(
          "refresh",
          `${kind}: 4 concurrent redemptions`,
          `failed: ${c.message}`,
          "",
          "reported",
          "**failed**",
        );
      else
        row(
          "refresh",
          `${kind}: redemptions per second, each token redeemed by 4 callers at once (16 sessions)`,
          rate(c.perSecond),
          "",
          "reported; 0 failures",
          c.failures === 0 ? "0 failures" : `**${c.failures} failures**`,
        );
    }
    notes.push(
      "logout-all: the user's sessions are seeded (through the store for memory and Redis, in bulk SQL for SQLite and PostgreSQL), then each of 20 logout-alls is the store's one write (the user's cutoff; the bench checks it is one feed entry, that it covers the seeded sessions and that none survives), timed on the store, while a second node verifies another user's token with `strict: true` (a store round trip per call); the target is checked on the median.",
    );
  }

  // ---- 8. remote verifiers and pushed events -----------------------------------------------------
  if (want("remote")) await benchRemoteSection();
} finally {
  await redis?.stop();
  await postgres?.stop();
  rmSync(tmp, { recursive: true, force: true });
}

/** Section 9 figures: remote verifiers, their cold start, and SET delivery (SQLite). */
async function benchRemoteSection() {
  const r = await attempt(() => benchRemote(tmp, SIZES.propagation));
  if (r instanceof Error) {
    row("remote", "propagation and SET delivery", `failed: ${r.message}`, "", "p99 <= 50 ms", "**failed**");
  } else {
    const p = r.propagation;
    row(
      "remote",
      "sqlite: revoke on the server, refused by 3 remote verifier processes",
      `p99 ${ms(p.p99)} (p50 ${ms(p.p50)}, max ${ms(p.max)}, n=${p.samples})`,
      "",
      "p99 <= 50 ms",
      status(p.p99, 50, { higher: false, unit: " ms", digits: 1 }),
    );
    const d = r.delivery;
    row(
      "remote",
      "sqlite: revoke on the server to the SET received by a push receiver",
      `p99 ${ms(d.p99)} (p50 ${ms(d.p50)}, max ${ms(d.max)}, n=${d.samples})`,
      "",
      "reported",
      "reported",
    );
  }
  const c = await attempt(() => benchRemoteColdStart(tmp, SIZES.cold));
  if (c instanceof Error) {
    row("remote", "verifier cold start", `failed: ${c.message}`, "", "<= 2 s", "**failed**");
  } else {
    row(
      "remote",
      `sqlite: new verifier process, ${SIZES.cold.toLocaleString("en-US")} active revocations, fork to snapshot loaded (${c.tokens.toLocaleString("en-US")} held)`,
      ms(c.ms),
      "",
      "<= 2 s",
      status(c.ms / 1000, 2, { higher: false, unit: " s", digits: 2 }),
    );
  }
  const size = await benchStatusListSize(1_000_000, 0.01);
  row(
    "status list",
    "1,000,000 live tokens, 1% revoked at random: compressed list (lst) and whole Status List Token",
    `${(size.lstBytes / 1024).toFixed(1)} KiB lst (raw bits ${(size.rawBytes / 1024).toFixed(0)} KiB), about ${(size.tokenBytes / 1024).toFixed(1)} KiB token, encoded in ${ms(size.encodeMs)}`,
    "",
    "reported",
    "reported",
  );
  notes.push(
    "remote: the auth server (SQLite) runs in the bench process; each verifier is `revokit/verifier` in its own process following the server's revocation feed over HTTP (long polls; the server reads its store for all of them at once). Propagation: from the start of `logout()` to each verifier's report that the token is refused (each verifies every millisecond; IPC included). SET delivery: from the start of `logout()` to a receiver in the bench process getting the pushed Security Event Token. Cold start: fork of a verifier process to its snapshot loaded, Node's own start included, against a running server (its replica loaded), which serves the snapshot from its replica in the binary form.",
  );
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
