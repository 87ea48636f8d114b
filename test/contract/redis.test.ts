import { randomBytes } from "node:crypto";
import { afterAll, describe, it } from "vitest";
import { redisStore } from "../../src/stores/redis/index.js";
import { type RedisServer, redisUnavailableReason, startRedis } from "../helpers/redis-server.js";
import { runStoreContract } from "./store-contract.js";

// A private redis-server (no persistence: the suite does not restart it); each case gets its own prefix.
const server: RedisServer | undefined = await startRedis();
afterAll(() => server?.stop());

const quiet = { warn: () => undefined, error: () => undefined };

if (server) {
  runStoreContract("redis", async () => {
    const prefix = `c${randomBytes(6).toString("hex")}:`;
    const make = () => redisStore({ url: server.url }, { prefix, logger: quiet });
    return { store: make(), peer: async () => make() };
  });
} else {
  // Outside CI a missing server skips with its reason; under CI it fails (never a silent skip).
  describe.skipIf(!process.env.CI)(`store contract: redis (${redisUnavailableReason})`, () => {
    it("needs redis-server", () => {
      throw new Error(redisUnavailableReason);
    });
  });
}
