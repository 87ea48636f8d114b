import { randomBytes } from "node:crypto";
import { afterAll, describe, it } from "vitest";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { postgresUnavailableReason, startPostgres } from "../helpers/postgres-server.js";
import { runStoreContract } from "./store-contract.js";

// DATABASE_URL (or PG*) when given, else a private cluster; each case gets its own schema.
const server = await startPostgres();
afterAll(() => server?.close());

if (server) {
  const url = server.url;
  runStoreContract("postgres", async () => {
    const schema = `contract_${randomBytes(6).toString("hex")}`;
    const make = () => postgresStore({ url, schema, purgeInterval: 0, max: 5 });
    return {
      store: make(),
      peer: async () => make(),
      cleanup: async () => {
        await server.sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      },
    };
  });
} else {
  // Outside CI a missing server skips with its reason; under CI it fails (never a silent skip).
  describe.skipIf(!process.env.CI)(`store contract: postgres (${postgresUnavailableReason})`, () => {
    it("needs PostgreSQL", () => {
      throw new Error(postgresUnavailableReason);
    });
  });
}
