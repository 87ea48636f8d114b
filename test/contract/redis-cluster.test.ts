import { randomBytes } from "node:crypto";
import { afterAll, describe, it } from "vitest";
import { redisStore } from "../../src/stores/redis/index.js";
import { type RedisCluster, redisUnavailableReason, startRedisCluster } from "../helpers/redis-server.js";
import { runStoreContract } from "./store-contract.js";

// A local three-master Redis Cluster: the key layout must keep every script within one slot, and the
// cross-slot steps (feed publication) must still satisfy the whole contract.
const cluster: RedisCluster | undefined = await startRedisCluster();
afterAll(() => cluster?.stop());

const quiet = { warn: () => undefined, error: () => undefined };

if (cluster) {
  runStoreContract("redis cluster", async () => {
    const prefix = `k${randomBytes(6).toString("hex")}:`;
    const make = () => redisStore({ nodes: cluster.nodes }, { prefix, logger: quiet });
    return { store: make(), peer: async () => make() };
  });
} else {
  // Outside CI a missing server skips with its reason; under CI it fails (never a silent skip).
  describe.skipIf(!process.env.CI)(`store contract: redis cluster (${redisUnavailableReason})`, () => {
    it("needs redis-server", () => {
      throw new Error(redisUnavailableReason);
    });
  });
}
