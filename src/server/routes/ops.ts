import type { FastifyPluginAsync } from "fastify";
import type { ServerContext } from "../context.js";
import { renderMetrics } from "../metrics.js";

/** How long `/healthz` waits for the store. */
const STORE_PROBE_MS = 2000;

async function probeStore(ctx: ServerContext): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ctx.store.check({ jti: "healthz-probe" }, ctx.now()),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("timed out")), STORE_PROBE_MS);
      }),
    ]);
    return null;
  } catch (error) {
    ctx.auth.metrics.storeErrors++;
    return error instanceof Error && error.message === "timed out"
      ? "the store did not answer in time"
      : "the store failed";
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `/healthz` (200, or 503 when the store or the replica's freshness fails) and `/metrics`. A replica
 * still loading its first snapshot is not a failure: the node answers (`verify` asks the store) and
 * reports `checks.replica: "loading"`, `replica.loaded: false`.
 */
export const opsRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  app.get("/healthz", async (_request, reply) => {
    reply.header("cache-control", "no-store");
    const storeProblem = await probeStore(ctx);
    const status = ctx.auth.status();
    const replica = {
      fresh: status.replica.fresh,
      lag_ms: status.replica.lagMs,
      tokens: status.replica.tokens,
      sessions: status.replica.sessions,
      loaded: status.replica.loaded,
    };
    const loading = !status.replica.loaded;
    const checks = {
      store: storeProblem ? "fail" : "ok",
      replica: status.replica.fresh ? "ok" : loading ? "loading" : "stale",
    };
    if (storeProblem || (!status.replica.fresh && !loading)) {
      return reply
        .code(503)
        .header("retry-after", "1")
        .send({
          status: "unavailable",
          error: "temporarily_unavailable",
          error_description: storeProblem ?? "the revocation replica is not current",
          store: ctx.store.kind,
          checks,
          replica,
        });
    }
    return {
      status: "ok",
      store: ctx.store.kind,
      checks,
      replica,
      signing_key: status.keys.find((k) => k.signing)?.kid ?? null,
      fail_mode: status.failMode,
    };
  });

  app.get("/metrics", async (_request, reply) => {
    reply.header("cache-control", "no-store").type("text/plain; version=0.0.4; charset=utf-8");
    return await renderMetrics(ctx.auth, ctx.metrics);
  });
};
