/**
 * PostgreSQL killed (SIGKILL of the postmaster and every backend: a crash, not a shutdown) and
 * restarted under a steady verification load on three nodes while revocations keep coming: no revoked
 * token is ever accepted after the bound, valid tokens get ERR_REVOCATION_UNAVAILABLE (503) while the
 * nodes cannot show freshness, and the nodes recover by themselves once PostgreSQL is back (crash
 * recovery, no data lost). The graceful stop/start and killed-connection cases are in
 * test/integration/postgres-*.test.ts; this one adds the crash under load, checked against a ledger.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Auth, createAuth } from "../../src/index.js";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { type PostgresServer, postgresUnavailableReason, startPostgres } from "../helpers/postgres-server.js";
import { crashUnderLoad } from "./revocation-load.js";
import { outcomeOf, sleep, within } from "./store-targets.js";

const MAX_STALENESS_MS = 1000;
/** Generous for a loaded two-core machine. */
const RECOVERY_BOUND_MS = 20_000;

const server = await startPostgres({ controllable: true });
afterAll(() => server?.close());

/** The state letter of a process (`Z` for a zombie), or `undefined` when it is gone. */
function stateOf(pid: number): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0] ?? "", ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

/**
 * SIGKILLs the postmaster and all its children, waits until they are dead, and removes the lock files a
 * killed postmaster leaves behind (their pid may linger as an unreaped zombie in a container, which
 * PostgreSQL would take for a running server).
 */
async function killPostgres(pg: PostgresServer): Promise<void> {
  if (!existsSync("/proc/self/stat")) throw new Error("killing PostgreSQL needs /proc (Linux)");
  const [row] = await pg.sql(
    "SELECT current_setting('data_directory') AS dir, current_setting('unix_socket_directories') AS sockets, current_setting('port') AS port",
  );
  const dataLock = join(String(row?.dir), "postmaster.pid");
  const socketLocks = String(row?.sockets ?? "")
    .split(",")
    .map((d) => d.trim())
    .filter((d) => d.length > 0)
    .map((d) => join(d, `.s.PGSQL.${String(row?.port)}.lock`));
  const postmaster = Number(readFileSync(dataLock, "utf8").split("\n")[0]);
  const children = readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => stateOf(pid)?.ppid === postmaster);
  const pids = [postmaster, ...children];
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await within("PostgreSQL processes die", 10_000, async () =>
    pids.every((pid) => {
      const s = stateOf(pid);
      return s === undefined || s.state === "Z";
    }),
  );
  for (const file of [dataLock, ...socketLocks]) rmSync(file, { force: true });
}

/** Collects the nodes' warnings instead of printing them (an outage is expected here). */
function quietLogger(lines: string[]) {
  return {
    warn: (_obj: object, msg?: string) => lines.push(msg ?? ""),
    error: (_obj: object, msg?: string) => lines.push(msg ?? ""),
  };
}

describe.skipIf(!server)(
  `faults: PostgreSQL killed under load${server ? "" : ` (${postgresUnavailableReason})`}`,
  () => {
    it.each([
      // A durable deployment: every acknowledged commit survives the crash.
      { commit: "on", durable: true },
    ])(
      "synchronous_commit=$commit: no revoked token is accepted; valid ones get 503, then the nodes recover by themselves",
      async ({ commit, durable }) => {
        const pg = server as PostgresServer;
        const schema = `fault_${randomBytes(6).toString("hex")}`;
        const nodes: Auth[] = [];
        const logs: string[] = [];
        await pg.sql(`ALTER DATABASE postgres SET synchronous_commit = ${commit}`);
        try {
          for (let i = 0; i < 3; i++) {
            nodes.push(
              await createAuth({
                issuer: "https://issuer.faults",
                audience: "api",
                store: postgresStore({
                  url: pg.url,
                  schema,
                  purgeInterval: 0,
                  max: 6,
                  connectTimeout: "1s",
                  applicationName: `fault-node-${i}`,
                }),
                maxStaleness: MAX_STALENESS_MS / 1000,
                purgeInterval: 0,
                logger: quietLogger(logs),
              }),
            );
          }
          const { report, revokedBeforeKill, revokedAtRecovery, load, fresh } = await crashUnderLoad(
            {
              nodes,
              kill: () => killPostgres(pg),
              restart: () => pg.start(),
              maxStalenessMs: MAX_STALENESS_MS,
              recoveryBoundMs: RECOVERY_BOUND_MS,
            },
            durable,
          );
          const live = load.liveTokens;

          // Never a revoked token accepted, never an unexpected error.
          expect(report.revokedAccepted).toBe(0);
          const dataLost = logs.some((l) => /lost its data/.test(l));
          if (durable) {
            expect(dataLost).toBe(false);
            expect(report.violations).toEqual([]);
            for (const [i] of nodes.entries()) {
              expect(
                report.acceptedAfterRecovery[i],
                `node ${i} accepted valid tokens after recovery`,
              ).toBeGreaterThan(0);
            }
          } else {
            // Losing acknowledged commits is detected: every older token counts as revoked (users log in
            // again), so a lost revocation never lets its token back in.
            expect(report.violations.filter((v) => !/refused never-revoked/.test(v))).toEqual([]);
            if (report.falselyRefused > 0) expect(dataLost).toBe(true);
            if (dataLost) {
              for (const node of nodes)
                expect(await outcomeOf(node.verify(live[0]!))).toBe("ERR_TOKEN_REVOKED");
            }
          }
          // The load was real on both sides of the crash.
          expect(revokedBeforeKill).toBeGreaterThan(10);
          expect(report.revocationsFailed).toBeGreaterThan(0);
          expect(report.revocations).toBeGreaterThan(revokedAtRecovery);
          for (const [i] of nodes.entries()) {
            expect(report.unavailable[i], `node ${i} answered 503 during the outage`).toBeGreaterThan(0);
          }
          // In the end every revocation, including those retried after failing during the outage, holds everywhere.
          for (const token of load.revokedTokens) {
            for (const node of nodes) {
              await within("a revoked token is refused on every node", 5_000, async () =>
                ["ERR_SESSION_REVOKED", "ERR_TOKEN_REVOKED"].includes(await outcomeOf(node.verify(token))),
              );
            }
          }
          // A login now is accepted everywhere. (After a loss, logins made before the nodes noticed it may be
          // refused too: the cutoff is the moment of detection.)
          const last = await nodes[2]!.login("at-the-end");
          for (const node of nodes) {
            expect(node.status().replica.lastError).toBeNull();
            expect(await outcomeOf(node.verify(last.accessToken))).toBe("accepted");
            if (durable) expect(await outcomeOf(node.verify(fresh.accessToken))).toBe("accepted");
          }
        } finally {
          await Promise.all(nodes.map((n) => n.close()));
        }
      },
    );
    it("a crash that loses acknowledged commits: the lost revocation and the ones after the restart hold on every node", async () => {
      const pg = server as PostgresServer;
      const schema = `loss_${randomBytes(6).toString("hex")}`;
      const logs: string[] = [];
      const nodes: Auth[] = [];
      // Acknowledged commits stay in PostgreSQL's WAL buffers for up to 10 s: a crash loses them.
      await pg.sql("ALTER DATABASE postgres SET synchronous_commit = off");
      await pg.sql("ALTER SYSTEM SET wal_writer_delay = '10s'");
      await pg.sql("ALTER SYSTEM SET wal_writer_flush_after = '1GB'");
      await pg.sql("SELECT pg_reload_conf()");
      try {
        for (let i = 0; i < 2; i++) {
          nodes.push(
            await createAuth({
              issuer: "https://issuer.faults",
              audience: "api",
              store: postgresStore({
                url: pg.url,
                schema,
                purgeInterval: 0,
                max: 4,
                connectTimeout: "1s",
              }),
              maxStaleness: MAX_STALENESS_MS / 1000,
              purgeInterval: 0,
              logger: quietLogger(logs),
            }),
          );
        }
        const [a, b] = nodes as [Auth, Auth];
        const [t1, t2] = [await a.login("lost"), await a.login("after")];
        await pg.sql("CHECKPOINT"); // the sessions and keys are durable; what follows is not
        await a.revokeAccessToken(t1.accessToken);
        await within(
          "node b refuses the revoked token",
          5_000,
          async () => (await outcomeOf(b.verify(t1.accessToken))) !== "accepted",
        );
        const [wal] = await pg.sql(
          "SELECT pg_current_wal_insert_lsn() > pg_current_wal_flush_lsn() AS unflushed",
        );
        expect(wal?.unflushed, "the revocation is acknowledged but not yet on disk").toBe(true);

        await killPostgres(pg);
        await pg.start();
        // A revocation right after the restart (it may get the position of the lost one in the feed).
        await within("a logout works after the restart", RECOVERY_BOUND_MS, async () =>
          a.logout(t2.sessionId).then(
            () => true,
            () => false,
          ),
        );
        const refusedNow = async (node: Auth) =>
          `lost revocation: ${await outcomeOf(node.verify(t1.accessToken))}, revocation after the restart: ${await outcomeOf(node.verify(t2.accessToken))}`;
        for (const [i, node] of nodes.entries()) {
          let last = "";
          await within(`node ${i} refuses both tokens`, 5_000, async () => {
            last = await refusedNow(node);
            return /lost revocation: ERR_\w+_REVOKED, revocation after the restart: ERR_\w+_REVOKED/.test(
              last,
            );
          }).catch(() => expect(last, `node ${i}`).toMatch(/ERR_\w+_REVOKED.*ERR_\w+_REVOKED/));
        }
        // And they stay refused.
        await sleep(2 * MAX_STALENESS_MS);
        for (const node of nodes) {
          expect(await outcomeOf(node.verify(t1.accessToken))).toMatch(/REVOKED/);
          expect(await outcomeOf(node.verify(t2.accessToken))).toMatch(/REVOKED/);
        }
      } finally {
        await Promise.all(nodes.map((n) => n.close()));
        await pg.sql("ALTER SYSTEM RESET wal_writer_delay");
        await pg.sql("ALTER SYSTEM RESET wal_writer_flush_after");
        await pg.sql("SELECT pg_reload_conf()");
        await pg.sql("ALTER DATABASE postgres SET synchronous_commit = on");
      }
    });
  },
);
