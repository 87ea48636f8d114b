import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { StoreUnavailableError } from "../../core/errors.js";
import type { RevocationEntry } from "../../stores/types.js";
import { ApiError, invalidRequest } from "../api-error.js";
import type { ServerContext } from "../context.js";
import { FeedHub } from "../feed-hub.js";

/** Path of the revocation feed (advertised as `revocation_feed_endpoint`). */
export const FEED_PATH = "/oauth/revocation-feed";
/** Longest long poll a reader may ask for, ms. */
const MAX_WAIT_MS = 25_000;
/** How long a snapshot is handed out again, ms. */
const SNAPSHOT_REUSE_MS = 10_000;
/** Cursors are short printable ASCII, whatever the store. */
const CURSOR_PATTERN = /^[\x21-\x7e]{0,256}$/;

/**
 * The revocation feed for remote verifiers (`revokit/verifier`), for confidential clients only
 * (`client_secret_basic`, as at introspection):
 * - `GET /oauth/revocation-feed?snapshot=true`: every active revocation and the position after them:
 *   `{ rows: [[kind, subject, expiresAt], ...], global_cutoff, cursor, epoch }` (times in ms).
 * - `GET /oauth/revocation-feed?cursor=C&wait=MS`: the entries recorded after `C` (each with every
 *   field the store records, whatever its kind), waiting up to `wait` ms for one:
 *   `{ entries, cursor, epoch }`. An empty answer is a heartbeat: nothing was recorded after `C`
 *   as of the moment the request arrived. A changed `epoch` means the store lost its data.
 */
export const feedRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  const hub = new FeedHub(ctx.auth.store, ctx.now);
  hub.onError = (error) => app.log.warn({ err: error }, "revocation feed: store read failed; retrying");
  app.addHook("onClose", async () => hub.close());
  const snapshots = new SnapshotCache(ctx, () => hub.epoch);

  const confidentialClient = async (request: FastifyRequest) => {
    const caller = await ctx.clients.authenticate(
      request.raw.headersDistinct?.authorization ?? request.headers.authorization,
      {},
    );
    if (!caller.confidential) {
      throw ctx.clients.invalidClient("The revocation feed requires a confidential client");
    }
  };

  app.get(FEED_PATH, async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    for (const key of Object.keys(query)) {
      if (key !== "snapshot" && key !== "cursor" && key !== "wait")
        throw invalidRequest(`Unknown parameter: ${key}`);
      if (typeof query[key] !== "string") throw invalidRequest(`Duplicate parameter: ${key}`);
    }
    await confidentialClient(request);
    reply.header("cache-control", "no-store");
    if (query.snapshot !== undefined) {
      if (query.snapshot !== "true" || query.cursor !== undefined || query.wait !== undefined)
        throw invalidRequest("snapshot=true takes no other parameter");
      return reply.type("application/json; charset=utf-8").send(await snapshots.get());
    }
    const cursor = query.cursor as string | undefined;
    if (cursor === undefined) throw invalidRequest("cursor is required (or snapshot=true)");
    if (!CURSOR_PATTERN.test(cursor)) throw invalidRequest("cursor is malformed");
    const waitText = (query.wait as string | undefined) ?? "0";
    if (!/^\d{1,6}$/.test(waitText) || Number(waitText) > MAX_WAIT_MS)
      throw invalidRequest(`wait must be an integer from 0 to ${MAX_WAIT_MS} (ms)`);
    let answer: { epoch: string; cursor: string; entries: RevocationEntry[] };
    try {
      answer = await ctx.auth.storeCall(() => hub.read(cursor, Number(waitText)));
    } catch (error) {
      // A cursor that is no position of this store is the caller's mistake, not an outage.
      if (error instanceof StoreUnavailableError && error.cause instanceof TypeError)
        throw new ApiError(400, "invalid_request", "cursor is not a position of this feed");
      throw error;
    }
    return reply.type("application/json; charset=utf-8").send(JSON.stringify(answer));
  });
};

/**
 * Recent snapshots are shared: a snapshot stays correct after it was taken (its cursor leads to every
 * later entry, and entries that expired since cover no valid token), so verifiers starting together,
 * or within {@link SNAPSHOT_REUSE_MS} of each other, cost the store one read.
 */
class SnapshotCache {
  readonly #ctx: ServerContext;
  readonly #epoch: () => string;
  #last: { at: number; epoch: string; body: Promise<string> } | undefined;

  /** `epoch` is the store's epoch as last seen (a snapshot of another epoch is never handed out). */
  constructor(ctx: ServerContext, epoch: () => string) {
    this.#ctx = ctx;
    this.#epoch = epoch;
  }

  get(): Promise<string> {
    const now = this.#ctx.now();
    const epoch = this.#epoch();
    if (!this.#last || now - this.#last.at > SNAPSHOT_REUSE_MS || this.#last.epoch !== epoch) {
      const body = snapshotBody(this.#ctx);
      const entry = { at: now, epoch, body };
      this.#last = entry;
      body.catch(() => {
        if (this.#last === entry) this.#last = undefined;
      });
    }
    return this.#last.body;
  }
}

/** The snapshot as one JSON text, built without an object per entry. */
async function snapshotBody(ctx: ServerContext): Promise<string> {
  const store = ctx.auth.store;
  const parts: string[] = [];
  let head: { globalCutoff: number; cursor: string; epoch: string };
  const now = ctx.now();
  if (store.snapshotInto) {
    head = await ctx.auth.storeCall(() => {
      parts.length = 0;
      return (store.snapshotInto as NonNullable<typeof store.snapshotInto>)(now, (...row) => {
        parts.push(JSON.stringify(row));
      });
    });
  } else {
    const snap = await ctx.auth.storeCall(() => store.snapshot(now));
    for (const e of snap.entries) parts.push(JSON.stringify([e.kind, e.subject, e.expiresAt]));
    head = snap;
  }
  return `{"rows":[${parts.join(",")}],"global_cutoff":${head.globalCutoff},"cursor":${JSON.stringify(head.cursor)},"epoch":${JSON.stringify(head.epoch)}}`;
}
