// @ts-check
// Shared by the TypeScript test helpers and the bench (plain node), so it is JavaScript.
import { createServer } from "node:net";

/**
 * A free TCP port on 127.0.0.1 (closed again before it is returned).
 * @returns {Promise<number>}
 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}
