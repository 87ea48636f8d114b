import type { Logger } from "../../core/logger.js";
import type { Connection } from "./connection.js";
import type { KeyLayout } from "./layout.js";
import type { Publication } from "./publication.js";

/**
 * What every part of the Redis store works with: the connections, the key names, the Cluster
 * publication, and where failures that reach no caller are logged.
 */
export interface RedisContext {
  readonly conn: Connection;
  readonly log: Logger;
  readonly keys: KeyLayout;
  readonly publication: Publication;
}
