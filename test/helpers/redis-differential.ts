/**
 * The harness of the Redis script differentials (rotation, user cutoff): the same property run on a
 * standalone Redis and on a Redis Cluster, each through the store and a raw client of that Redis.
 */
import { Cluster, Redis } from "ioredis";
import { afterAll, describe, it } from "vitest";
import type { NewRevocation } from "../../src/core/model.js";
import type { Store } from "../../src/stores/contract.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { redisUnavailableReason, startRedis, startRedisCluster } from "./redis-server.js";

const quiet = { warn: () => undefined, error: () => undefined };

/** Runs `property(store, raw, numRuns)` on a standalone Redis and on a Cluster, each in its own `it`. */
export async function onRedisAndCluster(
  name: string,
  prefix: string,
  runs: { standalone: number; cluster: number },
  property: (store: Store, raw: Redis | Cluster, numRuns: number) => Promise<void>,
): Promise<void> {
  const server = await startRedis();
  const cluster = await startRedisCluster();
  afterAll(async () => {
    await server?.stop();
    await cluster?.stop();
  });
  const run = async (store: Store, raw: Redis | Cluster, numRuns: number) => {
    await store.open();
    try {
      await property(store, raw, numRuns);
    } finally {
      raw.disconnect();
      await store.close();
    }
  };
  describe.skipIf(!server)(`${name} ${server ? "" : `(${redisUnavailableReason})`}`, () => {
    it(`executes the core's plan exactly (${runs.standalone} runs and the boundaries)`, async () => {
      if (!server) return;
      const store = redisStore({ url: server.url }, { prefix, logger: quiet });
      await run(store, new Redis(server.url), runs.standalone);
    });
  });
  describe.skipIf(!cluster)(`${name} on Cluster ${cluster ? "" : `(${redisUnavailableReason})`}`, () => {
    it(`executes the core's plan exactly there too (${runs.cluster} runs: deferred writes, published entries)`, async () => {
      if (!cluster) return;
      const store = redisStore({ nodes: cluster.nodes }, { prefix, logger: quiet });
      await run(store, new Cluster(cluster.nodes), runs.cluster);
    }, 120_000);
  });
}

/** What the store's feed recorded since the last call (without `seq`), read from `0-0` on. */
export function feedRecorder(store: Store): () => Promise<NewRevocation[]> {
  let cursor = "0-0";
  return async () => {
    const batch = await store.changes(cursor, { waitMs: 0, limit: 1_000 });
    cursor = batch.cursor;
    return batch.entries.map(({ seq: _seq, ...e }) => e);
  };
}
