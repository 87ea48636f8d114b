/**
 * Redis (AOF on, `noeviction`) killed with SIGKILL and restarted under a steady verification load on
 * three nodes while revocations keep coming, checked against a ledger: no revoked token is ever
 * accepted after the bound, valid tokens get ERR_REVOCATION_UNAVAILABLE (503) while the nodes cannot
 * show freshness, and the nodes recover by themselves with nothing lost. The single-kill case with
 * fixed tokens and the restart-without-data case are in test/integration/redis-*.test.ts.
 */
import { afterAll, describe, expect, it } from "vitest";
import { type Auth, createAuth } from "../../src/index.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { type RedisServer, redisUnavailableReason, startRedis } from "../helpers/redis-server.js";
import { crashUnderLoad } from "./revocation-load.js";
import { outcomeOf, within } from "./store-targets.js";

const MAX_STALENESS_MS = 1000;
const RECOVERY_BOUND_MS = 20_000;

const server = await startRedis({ appendonly: true });
afterAll(() => server?.stop());

describe.skipIf(!server)(
  `faults: Redis killed under load${server ? "" : ` (${redisUnavailableReason})`}`,
  () => {
    it("no revoked token is accepted; valid ones get 503 during the outage, then the nodes recover by themselves", async () => {
      const redis = server as RedisServer;
      const logs: string[] = [];
      const logger = {
        warn: (_o: object, msg?: string) => logs.push(msg ?? ""),
        error: (_o: object, msg?: string) => logs.push(msg ?? ""),
      };
      const nodes: Auth[] = [];
      try {
        for (let i = 0; i < 3; i++) {
          nodes.push(
            await createAuth({
              issuer: "https://issuer.faults",
              audience: "api",
              store: redisStore({ url: redis.url }, { prefix: "faults:", commandTimeout: "1s", logger }),
              maxStaleness: MAX_STALENESS_MS / 1000,
              purgeInterval: 0,
              logger,
            }),
          );
        }
        const { report, revokedBeforeKill, revokedAtRecovery, load, fresh } = await crashUnderLoad({
          nodes,
          kill: () => redis.kill(),
          restart: () => redis.restart(),
          maxStalenessMs: MAX_STALENESS_MS,
          recoveryBoundMs: RECOVERY_BOUND_MS,
        });

        expect(report.violations).toEqual([]);
        expect(report.revokedAccepted).toBe(0);
        expect(report.falselyRefused).toBe(0);
        expect(logs.some((l) => /lost its data/.test(l))).toBe(false);
        // The load was real on both sides of the crash.
        expect(revokedBeforeKill).toBeGreaterThan(10);
        expect(report.revocationsFailed).toBeGreaterThan(0);
        expect(report.revocations).toBeGreaterThan(revokedAtRecovery);
        for (const [i] of nodes.entries()) {
          expect(report.unavailable[i], `node ${i} answered 503 during the outage`).toBeGreaterThan(0);
          expect(
            report.acceptedAfterRecovery[i],
            `node ${i} accepted valid tokens after recovery`,
          ).toBeGreaterThan(0);
        }
        // In the end every revocation, including those retried after failing during the outage, holds everywhere.
        for (const token of load.revokedTokens) {
          for (const node of nodes) {
            await within("a revoked token is refused on every node", 5_000, async () =>
              ["ERR_SESSION_REVOKED", "ERR_TOKEN_REVOKED"].includes(await outcomeOf(node.verify(token))),
            );
          }
        }
        for (const node of nodes) {
          expect(node.status().replica.lastError).toBeNull();
          expect(await outcomeOf(node.verify(fresh.accessToken))).toBe("accepted");
        }
      } finally {
        await Promise.all(nodes.map((n) => n.close()));
      }
    });
  },
);
