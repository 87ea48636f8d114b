// The servers the bench starts for itself, on free loopback ports in temporary folders, and removes
// at the end: one redis-server, and one private PostgreSQL cluster (DATABASE_URL is used instead when
// set). A missing binary makes the section say so. The processes are started by the same code as the
// tests' (test/helpers/redis-process.mjs, test/helpers/pg-cluster.mjs).
import { findPgBinDir, startPgCluster } from "../../test/helpers/pg-cluster.mjs";
import { hasBinary, startRedisServer } from "../../test/helpers/redis-process.mjs";

/** Starts redis-server (no persistence: the bench measures the feed, not the disk); `undefined` if absent. */
export async function startRedis() {
  if (!hasBinary("redis-server")) return undefined;
  const server = await startRedisServer({ prefix: "revokit-bench-redis-" });
  return { url: server.url, stop: () => server.stop() };
}

/**
 * A PostgreSQL for the bench: `DATABASE_URL` when set, else a private cluster (fsync off, like the
 * tests: the bench measures the protocol, not the disk); `undefined` when neither is possible.
 */
export async function startPostgres() {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  const bin = findPgBinDir();
  if (!bin) return undefined;
  const cluster = await startPgCluster(bin, { prefix: "revokit-bench-pg-" });
  return {
    url: cluster.url,
    async stop() {
      try {
        cluster.close();
      } catch {
        // already stopped
      }
    },
  };
}
