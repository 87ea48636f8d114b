// Section 3: HTTP on loopback with autocannon, for Express, Fastify and Hono: no check at all, JWT
// verification without revocation check, requireAuth (cache on, the default, and off), and the common
// recipe (jose + one Redis EXISTS per request). The server runs in its own process; autocannon runs
// here, so each has one of the two cores.
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { createAuth } from "../../dist/index.js";
import { redisStore } from "../../dist/stores/redis.js";
import { AUTH_OPTIONS, log, median, QUIET, startChild } from "./common.mjs";

const SERVER = fileURLToPath(new URL("./http-server.mjs", import.meta.url));
export const FRAMEWORKS = ["express", "fastify", "hono"];
const ROUNDS = 3;
export const ROUTES = [
  { path: "/none", name: "no check at all" },
  { path: "/jwt-only", name: "JWT verified, no revocation check" },
  { path: "/auth", name: "requireAuth (cache on, default)" },
  { path: "/auth-nocache", name: "requireAuth (cache off)" },
  { path: "/recipe", name: "common recipe: jose + Redis EXISTS" },
];

function cannon(url, token, duration) {
  return new Promise((resolve, reject) => {
    autocannon(
      { url, connections: 10, pipelining: 1, duration, headers: { authorization: `Bearer ${token}` } },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
}

/** Returns rows `{ framework, route, path, rps, p99, cpuUs }` (medians of the rounds). */
export async function benchHttp({ redisUrl, seconds }) {
  const prefix = "bench-http:";
  const auth = await createAuth({
    ...AUTH_OPTIONS,
    store: redisStore({ url: redisUrl }, { prefix, logger: QUIET }),
  });
  const rows = [];
  try {
    // A client reuses its token until it expires; ten clients with ten tokens would cache alike.
    const { accessToken } = await auth.login("bench-user");
    for (const framework of FRAMEWORKS) {
      const server = await startChild(SERVER, { framework, redisUrl, prefix });
      try {
        const port = await server.call("port");
        const url = (route) => `http://127.0.0.1:${port}${route.path}`;
        log(`http: ${framework}`);
        for (const route of ROUTES) await cannon(url(route), accessToken, 0.5); // warm-up (JIT, connections, caches)
        // Short interleaved rounds, so that a change in machine load hits every route alike.
        const results = ROUTES.map(() => []);
        for (let round = 0; round < ROUNDS; round++) {
          for (let j = 0; j < ROUTES.length; j++) {
            const k = (j + round) % ROUTES.length;
            const cpu0 = await server.call("cpu");
            const r = await cannon(url(ROUTES[k]), accessToken, seconds / ROUNDS);
            const cpu = (await server.call("cpu")) - cpu0;
            if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0) {
              throw new Error(
                `${framework} ${ROUTES[k].path}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`,
              );
            }
            results[k].push({ rps: r.requests.average, p99: r.latency.p99, cpuUs: cpu / r.requests.total });
          }
        }
        // verify must never have needed the store: the replica stayed fresh throughout.
        const storeChecks = await server.call("storeChecks");
        if (storeChecks > 0) throw new Error(`${framework}: ${storeChecks} verifications asked the store`);
        for (const [k, route] of ROUTES.entries()) {
          rows.push({
            framework,
            route: route.name,
            path: route.path,
            rps: median(results[k].map((r) => r.rps)),
            p99: median(results[k].map((r) => r.p99)),
            cpuUs: median(results[k].map((r) => r.cpuUs)),
          });
        }
      } finally {
        await server.stop();
      }
    }
  } finally {
    await auth.close();
  }
  return rows;
}
