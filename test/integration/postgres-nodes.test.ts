/**
 * Three node processes (createAuth + postgresStore from dist/) on one PostgreSQL database: a
 * revocation on one is refused by the others; a node whose connections are killed loses nothing;
 * PostgreSQL stopped: fail closed; started again: the nodes recover by themselves.
 *
 * Runs on a private cluster (the test stops and starts it). Needs `npm run build` first (`npm test`
 * does it).
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../helpers/eventually.js";
import { type PostgresServer, postgresUnavailableReason, startPostgres } from "../helpers/postgres-server.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/postgres-node.mjs", import.meta.url));
const DIST = fileURLToPath(new URL("../../dist/stores/postgres/index.js", import.meta.url));
/** Generous bounds for a loaded two-core machine; the goal on an idle host is milliseconds. */
const PROPAGATION_BOUND_MS = 5_000;
const RECOVERY_BOUND_MS = 15_000;

interface TokenSet {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
}
interface VerifyOutcome {
  ok: boolean;
  code?: string;
  fresh?: boolean;
}
interface NodeStatus {
  replica: { tokens: number; sessions: number; fresh: boolean; lastError: string | null };
}

/** A node process, called over IPC. */
class NodeProcess {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, (reply: { ok: boolean; result?: unknown; code?: string }) => void>();
  #next = 1;
  readonly ready: Promise<void>;

  constructor(
    readonly name: string,
    url: string,
    schema: string,
  ) {
    this.#child = fork(FIXTURE, [], {
      env: { ...process.env, JR_PG_URL: url, JR_PG_SCHEMA: schema, JR_NODE_NAME: name },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.ready = new Promise((resolve, reject) => {
      this.#child.once("message", () => resolve());
      this.#child.once("exit", (code) =>
        reject(new Error(`${name} exited with ${code} before it was ready`)),
      );
    });
    this.#child.on("message", (msg: { id?: number; ok: boolean; result?: unknown; code?: string }) => {
      if (msg.id === undefined) return;
      this.#pending.get(msg.id)?.(msg);
      this.#pending.delete(msg.id);
    });
  }

  /** Calls an operation; resolves with its value, rejects with an error carrying the node's error code. */
  async call<T>(op: string, ...args: unknown[]): Promise<T> {
    const id = this.#next++;
    const reply = await new Promise<{ ok: boolean; result?: unknown; code?: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: ${op} got no answer in 20 s`)), 20_000);
      this.#pending.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.#child.send({ id, op, args });
    });
    if (!reply.ok)
      throw Object.assign(new Error(`${this.name}: ${op} failed with ${reply.code}`), { code: reply.code });
    return reply.result as T;
  }

  verify(token: string): Promise<VerifyOutcome> {
    return this.call("verify", token);
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || !this.#child.connected) return;
    const exited = new Promise((r) => this.#child.once("exit", r));
    await this.call("close").catch(() => this.#child.kill("SIGKILL"));
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "resolved";
  } catch (error) {
    return String((error as { code?: string }).code);
  }
}

const server = await startPostgres({ controllable: true });

describe.skipIf(!server)(
  `postgres: three node processes on one database${server ? "" : ` (${postgresUnavailableReason})`}`,
  () => {
    const pg = server as PostgresServer;
    const schema = `nodes_${randomBytes(6).toString("hex")}`;
    const names = [0, 1, 2].map((i) => `jr-node${i}-${randomBytes(3).toString("hex")}`);
    let nodes: NodeProcess[] = [];

    beforeAll(async () => {
      if (!existsSync(DIST))
        throw new Error("dist/stores/postgres/index.js is missing: run `npm run build` first");
      nodes = names.map((n) => new NodeProcess(n, pg.url, schema));
      await Promise.all(nodes.map((n) => n.ready));
    });

    afterAll(async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      await pg.close();
    });

    function node(i: number): NodeProcess {
      const n = nodes[i];
      if (!n) throw new Error(`no node ${i}`);
      return n;
    }

    it("shares one signing key and the sessions: a token from one node is accepted by the others", async () => {
      const t = await node(0).call<TokenSet>("login", "alice");
      for (const n of nodes) expect(await n.verify(t.accessToken)).toEqual({ ok: true });
    });

    it("a revocation on one node is refused by the others within a generous bound, from their replicas", async () => {
      const t = await node(0).call<TokenSet>("login", "bob");
      const other = await node(1).call<TokenSet>("login", "bob");
      for (const n of nodes) expect((await n.verify(t.accessToken)).ok).toBe(true);
      const before = await Promise.all(nodes.map((n) => n.call<NodeStatus>("status")));

      // Logout on node 1: the revoking node refuses at once, the others within the bound.
      expect(await node(1).call<boolean>("logout", t.sessionId)).toBe(true);
      expect(await node(1).verify(t.accessToken)).toMatchObject({ ok: false, code: "ERR_SESSION_REVOKED" });
      const latencies: number[] = [];
      for (const i of [0, 2]) {
        latencies.push(
          await eventually(
            `node ${i} refuses the logged-out session`,
            async () => {
              const r = await node(i).verify(t.accessToken);
              if (!r.ok) expect(r.code).toBe("ERR_SESSION_REVOKED");
              return !r.ok;
            },
            PROPAGATION_BOUND_MS,
          ),
        );
        // Learnt through the change feed: the replica holds the entry (not only the store's answer).
        const s = await node(i).call<NodeStatus>("status");
        expect(s.replica.sessions).toBeGreaterThan(before[i]?.replica.sessions ?? 0);
      }
      // Another session of the same user is untouched.
      for (const n of nodes) expect((await n.verify(other.accessToken)).ok).toBe(true);

      // One access token revoked on node 2: refused by 0 and 1.
      await node(2).call("revokeAccessToken", other.accessToken);
      for (const i of [0, 1]) {
        latencies.push(
          await eventually(
            `node ${i} refuses the revoked token`,
            async () => {
              const r = await node(i).verify(other.accessToken);
              if (!r.ok) expect(r.code).toBe("ERR_TOKEN_REVOKED");
              return !r.ok;
            },
            PROPAGATION_BOUND_MS,
          ),
        );
      }
      console.info(
        `postgres propagation to other nodes, observed (with polling): ${latencies.join(", ")} ms`,
      );
    });

    it("loses no revocation when a node's connections are killed while revocations happen", async () => {
      const victim = node(2);
      const victimName = names[2] as string;
      const tokens = await Promise.all(
        Array.from({ length: 24 }, (_, i) => node(0).call<TokenSet>("login", `carol-${i}`)),
      );
      const access = tokens.map((t) => t.accessToken);
      expect((await victim.call<VerifyOutcome[]>("verifyMany", access)).every((r) => r.ok)).toBe(true);
      const before = await victim.call<NodeStatus>("status");

      // Revoke one token at a time on node 0 while killing every backend of node 2 (its LISTEN
      // connection included) again and again.
      let revoking = true;
      const killed: string[] = [];
      const killer = (async () => {
        while (revoking) {
          const rows = await pg.sql(
            `SELECT application_name, pg_terminate_backend(pid) AS done FROM pg_stat_activity
           WHERE application_name LIKE $1`,
            [`${victimName}%`],
          );
          for (const r of rows) if (r.done === true) killed.push(String(r.application_name));
          await new Promise((r) => setTimeout(r, 60));
        }
      })();
      try {
        for (const token of access) {
          await node(0).call("revokeAccessToken", token);
          await new Promise((r) => setTimeout(r, 15));
        }
      } finally {
        revoking = false;
        await killer;
      }
      expect(killed).toContain(`${victimName}:listen`);

      // Every revocation reaches node 2 once it has reconnected: none lost.
      await eventually(
        "node 2 refuses every revoked token",
        async () => {
          const results = await victim.call<VerifyOutcome[]>("verifyMany", access);
          return results.every((r) => !r.ok && r.code === "ERR_TOKEN_REVOKED");
        },
        RECOVERY_BOUND_MS,
      );
      await eventually(
        "node 2's replica holds every revocation and is fresh",
        async () => {
          const s = await victim.call<NodeStatus>("status");
          return s.replica.fresh && s.replica.tokens >= before.replica.tokens + access.length;
        },
        RECOVERY_BOUND_MS,
      );
      // It listens again, by itself.
      await eventually(
        "node 2 has a LISTEN connection again",
        async () => {
          const rows = await pg.sql("SELECT 1 FROM pg_stat_activity WHERE application_name = $1", [
            `${victimName}:listen`,
          ]);
          return rows.length === 1;
        },
        RECOVERY_BOUND_MS,
      );
      // And the feed still works end to end after the reconnect.
      const fresh = await node(1).call<TokenSet>("login", "carol-after");
      await node(1).call("logout", fresh.sessionId);
      await eventually(
        "node 2 refuses a logout made after the reconnect",
        async () => {
          return !(await victim.verify(fresh.accessToken)).ok;
        },
        PROPAGATION_BOUND_MS,
      );
    });

    it("fails closed while PostgreSQL is down, and recovers by itself when it is back", async () => {
      const t = await node(0).call<TokenSet>("login", "dave");
      for (const n of nodes) expect((await n.verify(t.accessToken)).ok).toBe(true);

      await pg.stop();
      try {
        // Once the replicas cannot show freshness within maxStaleness (1 s), verify fails closed.
        for (const [i, n] of nodes.entries()) {
          await eventually(
            `node ${i} fails closed`,
            async () => {
              const r = await n.verify(t.accessToken);
              if (!r.ok) expect(r).toEqual({ ok: false, code: "ERR_REVOCATION_UNAVAILABLE", fresh: false });
              return !r.ok;
            },
            RECOVERY_BOUND_MS,
          );
        }
        // Revocations are refused promptly, never reported as done.
        const started = Date.now();
        expect(await codeOf(node(1).call("revokeAccessToken", t.accessToken))).toBe("ERR_STORE_UNAVAILABLE");
        expect(await codeOf(node(1).call("logout", t.sessionId))).toBe("ERR_STORE_UNAVAILABLE");
        expect(await codeOf(node(2).call("login", "erin"))).toBe("ERR_STORE_UNAVAILABLE");
        expect(Date.now() - started).toBeLessThan(10_000);
      } finally {
        await pg.start();
      }

      // Back: every node serves again, its replica fresh from the feed, without being restarted.
      for (const [i, n] of nodes.entries()) {
        await eventually(
          `node ${i} recovers`,
          async () => {
            const s = await n.call<NodeStatus>("status");
            return s.replica.fresh && s.replica.lastError === null && (await n.verify(t.accessToken)).ok;
          },
          RECOVERY_BOUND_MS,
        );
      }
      // The refused logout did not happen; a new one now propagates to every node.
      expect(await node(1).call<boolean>("logout", t.sessionId)).toBe(true);
      for (const i of [0, 2]) {
        await eventually(
          `node ${i} refuses after recovery`,
          async () => {
            const r = await node(i).verify(t.accessToken);
            return !r.ok && r.code === "ERR_SESSION_REVOKED";
          },
          PROPAGATION_BOUND_MS,
        );
      }
      for (const n of nodes) expect((await n.call<NodeStatus>("status")).replica.lastError).toBeNull();
    });
  },
);
