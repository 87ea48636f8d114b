// Section 3: HTTP on loopback with autocannon, for Express, Fastify and Hono: no check at all, JWT
// verification without revocation check, requireAuth (cache on, the default, and off), and the common
// recipe (jose + one Redis EXISTS per request); with one client token, and with 10,000 users whose
// tokens go round-robin through the requests. The server runs in its own process, pinned to CPU 1;
// autocannon runs here, pinned to CPU 0 (where taskset exists), so neither takes the other's core.
// Where wrk is installed, the check routes run again server-bound: wrk (pinned to CPU 0) keeps the
// server's CPU saturated, so their ratio is the ratio of what they cost the server.
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { createAuth } from "../../dist/index.js";
import { redisStore } from "../../dist/stores/redis/index.js";
import { AUTH_OPTIONS, log, median, pinning, pinSelf, QUIET, startChild } from "./common.mjs";
import { wrkAvailable, wrkRunner } from "./wrk.mjs";

const SERVER = fileURLToPath(new URL("./http-server.mjs", import.meta.url));
export const FRAMEWORKS = ["express", "fastify", "hono"];
/** Interleaved rounds per framework: every route runs once a round, for `seconds`. */
export const ROUNDS = 7;
/** Distinct users of the many-users runs. */
export const HTTP_USERS = 10_000;
/** Every run: a route, with one token (`many: false`) or the users' tokens in turn. */
export const ROUTES = [
  { path: "/none", name: "no check at all", many: false },
  { path: "/noop", name: "a middleware that does nothing", many: false },
  { path: "/jwt-only", name: "JWT verified, no revocation check", many: false },
  { path: "/auth", name: "requireAuth (cache on, default)", many: false },
  { path: "/with", name: "withAuth (cache on, default)", many: false },
  { path: "/auth-nocache", name: "requireAuth (cache off)", many: false },
  { path: "/recipe", name: "common recipe: jose + Redis EXISTS", many: false },
  { path: "/none", name: "no check at all", many: true },
  { path: "/auth", name: "requireAuth (cache on, default)", many: true },
  { path: "/with", name: "withAuth (cache on, default)", many: true },
  { path: "/auth-nocache", name: "requireAuth (cache off)", many: true },
  { path: "/recipe", name: "common recipe: jose + Redis EXISTS", many: true },
];

/** The routes also measured server-bound (wrk), where what they cost the server sets the rate. */
export const SERVER_BOUND_ROUTES = ROUTES.filter((r) =>
  ["/none", "/noop", "/auth", "/with"].includes(r.path),
);

/**
 * autocannon on `url` with 10 connections. With one token, every request carries it. With many, each
 * connection sends them all in turn, one per request, from its own starting point (ten instances of
 * one connection each, their requests prepared once), so the tokens in flight at a time are distinct.
 * Returns `{ rps, p99, total, failed }` (p99: the median of the connections' p99).
 */
async function cannon(url, tokens, duration) {
  const run = (options) =>
    new Promise((resolve, reject) => {
      autocannon({ url, pipelining: 1, duration, ...options }, (error, result) =>
        error ? reject(error) : resolve(result),
      );
    });
  const failed = (r) => r.non2xx + r.errors + r.timeouts;
  if (tokens.length === 1) {
    const r = await run({ connections: 10, headers: { authorization: `Bearer ${tokens[0]}` } });
    return { rps: r.requests.average, p99: r.latency.p99, total: r.requests.total, failed: failed(r) };
  }
  const path = new URL(url).pathname;
  const requests = tokens.map((t) => ({ method: "GET", path, headers: { authorization: `Bearer ${t}` } }));
  const step = Math.floor(tokens.length / 10);
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, c) =>
      run({ connections: 1, requests: [...requests.slice(c * step), ...requests.slice(0, c * step)] }),
    ),
  );
  return {
    rps: results.reduce((sum, r) => sum + r.requests.average, 0),
    p99: median(results.map((r) => r.latency.p99)),
    total: results.reduce((sum, r) => sum + r.requests.total, 0),
    failed: results.reduce((sum, r) => sum + failed(r), 0),
  };
}

/** Sends every token once to `url`, ten connections each taking a tenth of them in turn. */
async function sendEach(url, tokens) {
  const path = new URL(url).pathname;
  const step = Math.ceil(tokens.length / 10);
  await Promise.all(
    Array.from(
      { length: 10 },
      (_, c) =>
        new Promise((resolve, reject) => {
          const requests = tokens
            .slice(c * step, (c + 1) * step)
            .map((t) => ({ method: "GET", path, headers: { authorization: `Bearer ${t}` } }));
          autocannon({ url, connections: 1, amount: requests.length, requests }, (error, result) =>
            error
              ? reject(error)
              : result.non2xx > 0
                ? reject(new Error(`${url}: refused`))
                : resolve(result),
          );
        }),
    ),
  );
}

/**
 * revokit's own work per request behind `requireAuth` (reading the bearer header, the verified-token
 * cache, the revocation check), in µs: `authenticateNow` in this process, on header strings made
 * fresh as a server's parser makes them, after one pass over `tokens` (the steady state). The median
 * of 9 runs of 100 ms, yielding to the event loop between batches.
 */
async function ownCostUs(auth, tokens) {
  const { authenticateNow, resolveAuthOptions } = await import("../../dist/http/bearer.js");
  const options = resolveAuthOptions(auth, undefined);
  const n = Math.max(1000, tokens.length);
  const headers = Array.from({ length: n }, (_, i) =>
    Buffer.from(`Bearer ${tokens[i % tokens.length]}`, "latin1").toString("latin1"),
  );
  /** One check; `false` when it needed the store (the replica was not shown current at that moment). */
  const once = (h) => {
    const r = authenticateNow(
      auth,
      { authorization: h, cookieHeader: undefined, cookieName: undefined },
      options,
    );
    if (r instanceof Promise) {
      r.catch(() => undefined);
      return false;
    }
    if (!("claims" in r)) throw new Error("http: the in-process check refused a live token");
    return true;
  };
  // Logging the users in kept the event loop busy: wait until the replica is shown current again.
  const untilFresh = async () => {
    for (const started = Date.now(); !auth.isFresh(); ) {
      if (Date.now() - started > 30_000) throw new Error("http: the replica did not become current");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  await untilFresh();
  for (const h of headers) once(h);
  const runs = [];
  let at = 0;
  // A run in which the replica was not current for a moment (a check went to the store) measured
  // something else: it is done again, at most a few times.
  for (let run = 0, redone = 0; run < 9; run++) {
    let calls = 0;
    let current = true;
    const start = performance.now();
    while (current && performance.now() - start < 100) {
      for (let k = 0; k < 500; k++) {
        current = once(headers[at]) && current;
        if (++at === n) at = 0;
      }
      calls += 500;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (!current) {
      if (++redone > 5) throw new Error("http: the replica kept falling behind during the in-process check");
      run--;
      await untilFresh();
      continue;
    }
    runs.push(((performance.now() - start) * 1000) / calls);
  }
  return median(runs);
}

/**
 * Runs every route once a round, in an order rotating by round, for {@link ROUNDS} rounds; returns
 * per route the rounds' samples: what `measure(route)` resolved with (`rps`, `total`, ...) and the
 * server's CPU time per request, `cpuUs`.
 */
async function interleaved(server, routes, measure) {
  const samples = routes.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (let j = 0; j < routes.length; j++) {
      const k = (j + round) % routes.length;
      const cpu0 = await server.call("cpu");
      const r = await measure(routes[k]);
      const cpu = (await server.call("cpu")) - cpu0;
      samples[k].push({ ...r, cpuUs: cpu / r.total });
    }
  }
  return samples;
}

/**
 * One row per route: medians of its samples (`p99` when measured), and `vsNone`, the median of its
 * rounds' ratios of `rps` to the no-check route of the same mix in the same round (paired, so that
 * the machine's drift between rounds cancels out).
 */
function summarize(framework, routes, samples) {
  const noneOf = (many) => routes.findIndex((r) => r.path === "/none" && r.many === many);
  return routes.map((route, k) => {
    const none = samples[noneOf(route.many)];
    const of = (key) => median(samples[k].map((r) => r[key]));
    return {
      vsNone: median(samples[k].map((r, round) => r.rps / none[round].rps)),
      framework,
      route: route.name,
      path: route.path,
      many: route.many,
      rps: of("rps"),
      ...(samples[k][0].p99 === undefined ? {} : { p99: of("p99") }),
      cpuUs: of("cpuUs"),
    };
  });
}

/** Logs `n` users in (a few at a time) and returns their access tokens. */
async function loginMany(auth, n) {
  const tokens = new Array(n);
  for (let from = 0; from < n; from += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, n - from) }, (_, k) =>
        auth.login(`bench-user-${from + k}`).then((t) => {
          tokens[from + k] = t.accessToken;
        }),
      ),
    );
  }
  return tokens;
}

/**
 * Returns rows `{ framework, route, path, many, rps, p99, cpuUs, vsNone }` (autocannon), the same
 * without `p99` for the server-bound runs (`serverBound`, wrk; empty when wrk is not installed), and
 * the user count: `rps`,
 * `p99` and `cpuUs` are medians of the rounds; `vsNone` is the median of the rounds' ratios of `rps`
 * to the no-check route of the same mix in the same round (paired, so that the machine's drift between
 * rounds cancels out). `pinned` tells whether the processes ran on CPUs of their own.
 */
export async function benchHttp({ redisUrl, seconds, users = HTTP_USERS }) {
  const prefix = "bench-http:";
  const pinned = pinning();
  const unpin = pinSelf("0");
  const auth = await createAuth({
    ...AUTH_OPTIONS,
    store: redisStore({ url: redisUrl }, { prefix, logger: QUIET }),
  });
  const rows = [];
  /** The same as `rows` (no p99) for {@link SERVER_BOUND_ROUTES} under wrk; empty without wrk. */
  const serverBound = [];
  /** wrk runners for one token and for the users' tokens, when wrk is installed. */
  let wrk;
  /** revokit's own work per request, µs (see ownCostUs). */
  const own = { one: Number.NaN, many: Number.NaN };
  try {
    // A client reuses its token until it expires; ten clients with ten tokens would cache alike.
    const { accessToken } = await auth.login("bench-user");
    log(`http: ${users.toLocaleString("en-US")} users log in`);
    const many = await loginMany(auth, users);
    const tokensOf = (route) => (route.many ? many : [accessToken]);
    own.one = await ownCostUs(auth, [accessToken]);
    own.many = await ownCostUs(auth, many);
    if (wrkAvailable()) {
      const cpu = pinned ? 0 : undefined;
      wrk = { one: wrkRunner([accessToken], { cpu }), many: wrkRunner(many, { cpu }) };
    }
    for (const framework of FRAMEWORKS) {
      const server = await startChild(SERVER, { framework, redisUrl, prefix }, { cpu: 1 });
      try {
        const port = await server.call("port");
        const url = (route) => `http://127.0.0.1:${port}${route.path}`;
        log(`http: ${framework}`);
        for (const route of ROUTES) await cannon(url(route), tokensOf(route), 0.5); // warm-up (JIT, connections, caches)
        // A server that has been up a while: every active user has presented their token before.
        // One pass of all the users' tokens through the cached route, so that its many-users row
        // measures the steady state, not the first pass (which costs what the cache-off row shows).
        await sendEach(url({ path: "/auth" }), many);
        await sendEach(url({ path: "/with" }), many);
        // Short interleaved rounds, so that a change in machine load hits every route alike.
        const results = await interleaved(server, ROUTES, async (route) => {
          const r = await cannon(url(route), tokensOf(route), seconds);
          if (r.failed > 0) {
            throw new Error(
              `${framework} ${route.path}: ${r.failed} failed requests (non-2xx, errors, timeouts)`,
            );
          }
          return r;
        });
        if (wrk) {
          log(`http: ${framework}, server-bound (wrk)`);
          const runnerOf = (route) => (route.many ? wrk.many : wrk.one);
          for (const route of SERVER_BOUND_ROUTES) await runnerOf(route).run(url(route), 1); // warm-up
          const bound = await interleaved(server, SERVER_BOUND_ROUTES, async (route) => {
            const r = await runnerOf(route).run(url(route), seconds);
            if (r.failed > 0)
              throw new Error(`${framework} ${route.path} (wrk): ${r.failed} failed requests`);
            return r;
          });
          serverBound.push(...summarize(framework, SERVER_BOUND_ROUTES, bound));
        }
        // verify must never have needed the store: the replica stayed fresh throughout.
        const storeChecks = await server.call("storeChecks");
        if (storeChecks > 0) throw new Error(`${framework}: ${storeChecks} verifications asked the store`);
        rows.push(...summarize(framework, ROUTES, results));
      } finally {
        await server.stop();
      }
    }
  } finally {
    wrk?.one.close();
    wrk?.many.close();
    await auth.close();
    unpin();
  }
  return { rows, serverBound, wrk: wrk !== undefined, users, pinned, own };
}
