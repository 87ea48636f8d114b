import { Readable } from "node:stream";
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { StoreUnavailableError } from "../../core/errors.js";
import type { ChangeBatch, SnapshotHead } from "../../core/model.js";
import { idWords } from "../../replica/compact-index.js";
import { SnapshotEncoder } from "../../replica/snapshot-codec.js";
import type { RevocationStore } from "../../stores/contract.js";
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
 * - `GET /oauth/revocation-feed?snapshot=true`: every active revocation and the position after them,
 *   streamed as lines (see {@link SnapshotCache}; times in ms).
 * - `GET /oauth/revocation-feed?cursor=C&wait=MS`: the entries recorded after `C` (each with every
 *   field the store records, whatever its kind), waiting up to `wait` ms for one:
 *   `{ entries, cursor, epoch }`. An empty answer is a heartbeat: nothing was recorded after `C`
 *   as of the moment the request arrived. A changed `epoch` means the store lost its data.
 */
export const feedRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  const hub = new FeedHub(
    ctx.store,
    ctx.now,
    ctx.metrics.failureLog(app.log, "revocation_feed", "revocation feed: store read failed; retrying"),
  );
  app.addHook("onClose", async () => hub.close());
  const snapshots = new SnapshotCache(ctx, () => hub.epoch, recordSnapshot);
  const binarySnapshots = new SnapshotCache(ctx, () => hub.epoch, recordBinarySnapshot);

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
      if ((request.headers.accept ?? "").includes(BINARY_SNAPSHOT_TYPE)) {
        const recording = await binarySnapshots.get();
        return reply
          .type(`${BINARY_SNAPSHOT_TYPE}; version=1`)
          .send(Readable.from(recording.read(), { objectMode: false }));
      }
      const recording = await snapshots.get();
      return reply.type("text/plain; charset=utf-8").send(Readable.from(recording.read()));
    }
    const cursor = query.cursor as string | undefined;
    if (cursor === undefined) throw invalidRequest("cursor is required (or snapshot=true)");
    if (!CURSOR_PATTERN.test(cursor)) throw invalidRequest("cursor is malformed");
    const waitText = (query.wait as string | undefined) ?? "0";
    if (!/^\d{1,6}$/.test(waitText) || Number(waitText) > MAX_WAIT_MS)
      throw invalidRequest(`wait must be an integer from 0 to ${MAX_WAIT_MS} (ms)`);
    let answer: ChangeBatch;
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
 * Media type of the compact snapshot, asked for with `Accept` (without it a snapshot is text lines):
 * the binary form of `src/replica/snapshot-codec.ts` (frames of 24-byte id records, rows, the head last).
 */
export const BINARY_SNAPSHOT_TYPE = "application/vnd.revokit.snapshot";

/** One snapshot being read from the store (or read already), as chunks any number of readers replay. */
class Recording<C extends string | Buffer = string | Buffer> {
  readonly chunks: C[] = [];
  done = false;
  failed: unknown;
  /** Settles when the first chunk is there, or the snapshot ended or failed. */
  readonly started: Promise<void>;
  #start: (() => void) | undefined;
  #waiting: (() => void)[] = [];

  constructor() {
    this.started = new Promise((resolve) => {
      this.#start = resolve;
    });
  }

  #wake(): void {
    this.#start?.();
    for (const w of this.#waiting.splice(0)) w();
  }

  push(chunk: C): void {
    this.chunks.push(chunk);
    this.#wake();
  }

  end(error?: unknown): void {
    if (error !== undefined) this.failed = error;
    this.done = true;
    this.#wake();
  }

  /** Every chunk, the ones recorded already and then the new ones, until the end. */
  async *read(): AsyncGenerator<C> {
    for (let i = 0; ; ) {
      while (i < this.chunks.length) yield this.chunks[i++] as C;
      if (this.failed !== undefined) throw this.failed;
      if (this.done) return;
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
  }
}

/**
 * Recent snapshots are shared: a snapshot stays correct after it was taken (its cursor leads to every
 * later entry, and entries that expired since cover no valid token), so verifiers starting together,
 * or within {@link SNAPSHOT_REUSE_MS} of each other, cost the store one read. A snapshot is streamed
 * while the store is read: one line per active revocation, `kind<TAB>subject<TAB>expiresAt` (a
 * subject outside `[A-Za-z0-9._~-]` percent-encoded; a row of another shape as a JSON array), and a
 * last line, the head: `{"global_cutoff", "cursor", "epoch"}`. Without that last line the snapshot is
 * incomplete.
 */
class SnapshotCache {
  readonly #ctx: ServerContext;
  readonly #epoch: () => string;
  readonly #record: (ctx: ServerContext, out: Recording) => Promise<void>;
  #last: { at: number; epoch: string; recording: Recording } | undefined;

  /**
   * `epoch` is the store's epoch as last seen (a snapshot of another epoch is never handed out);
   * `record` writes one snapshot in this cache's format.
   */
  constructor(
    ctx: ServerContext,
    epoch: () => string,
    record: (ctx: ServerContext, out: Recording) => Promise<void>,
  ) {
    this.#ctx = ctx;
    this.#epoch = epoch;
    this.#record = record;
  }

  /** A snapshot being read or read recently; throws when the store fails before the first rows. */
  async get(): Promise<Recording> {
    const now = this.#ctx.now();
    const epoch = this.#epoch();
    const last = this.#last;
    if (
      !last ||
      now - last.at > SNAPSHOT_REUSE_MS ||
      last.epoch !== epoch ||
      last.recording.failed !== undefined
    ) {
      const recording = new Recording();
      this.#last = { at: now, epoch, recording };
      this.#record(this.#ctx, recording).then(
        () => recording.end(),
        (error: unknown) => recording.end(error ?? new Error("snapshot failed")),
      );
    }
    const recording = (this.#last as { recording: Recording }).recording;
    await recording.started;
    if (recording.chunks.length === 0 && recording.failed !== undefined) throw recording.failed;
    return recording;
  }
}

const SAFE_SUBJECT = /^[A-Za-z0-9._~-]*$/;
const CHUNK_CHARS = 64 * 1024;

/** Reads the snapshot from the store into `out`, a chunk every 64 KiB, the head last. */
async function recordSnapshot(ctx: ServerContext, out: Recording): Promise<void> {
  let buffer = "";
  const head = await readSnapshot(ctx, (args) => {
    const [kind, subject, expiresAt] = args;
    buffer +=
      args.length === 3 &&
      (kind === "jti" || kind === "session") &&
      typeof subject === "string" &&
      typeof expiresAt === "number"
        ? `${kind}\t${SAFE_SUBJECT.test(subject) ? subject : encodeURIComponent(subject)}\t${expiresAt}\n`
        : `${JSON.stringify(args)}\n`;
    if (buffer.length >= CHUNK_CHARS) {
      out.push(buffer);
      buffer = "";
    }
  });
  out.push(
    `${buffer}${JSON.stringify({ global_cutoff: head.globalCutoff, cursor: head.cursor, epoch: head.epoch })}\n`,
  );
}

/** Reads the snapshot into `out` in the binary form ({@link BINARY_SNAPSHOT_TYPE}; see the codec). */
async function recordBinarySnapshot(ctx: ServerContext, out: Recording): Promise<void> {
  const enc = new SnapshotEncoder((chunk) => out.push(chunk));
  let head: SnapshotHead;
  // This node's replica when it is loaded and fresh: its entries and cursor are taken at one
  // synchronous moment, so the feed resumes from that cursor without a gap. Otherwise, the store.
  const replica = ctx.auth.replicaSnapshot();
  if (replica) {
    // The sizes first, so the reader can size its tables once.
    enc.sizes(replica.jtis.expiresAt.length, replica.sessions.expiresAt.length);
    const parts = [
      ["jti", 0, replica.jtis],
      ["session", 1, replica.sessions],
    ] as const;
    for (const [kind, t, part] of parts) {
      for (let i = 0; i < part.expiresAt.length; i++) {
        enc.id(t, part.words, 4 * i, part.expiresAt[i] as number);
        // Yields now and then so a large snapshot does not hold the event loop for long.
        if (i % 65_536 === 65_535) await new Promise((resolve) => setImmediate(resolve));
      }
      for (const [subject, expiresAt] of part.others) enc.row([kind, subject, expiresAt]);
    }
    for (const r of replica.rows) enc.row(r);
    head = replica;
  } else {
    const words = new Uint32Array(4);
    head = await readSnapshot(ctx, (args) => {
      const [kind, subject, expiresAt] = args;
      if (
        args.length === 3 &&
        (kind === "jti" || kind === "session") &&
        typeof subject === "string" &&
        typeof expiresAt === "number" &&
        idWords(subject, words)
      ) {
        enc.id(kind === "jti" ? 0 : 1, words, 0, expiresAt);
        return;
      }
      enc.row(args);
    });
  }
  enc.end(head);
}

/** Reads the store's snapshot, each row to `row` (as the store's sink gets it), and returns its head. */
async function readSnapshot(
  ctx: ServerContext,
  row: (args: unknown[]) => void,
): Promise<{ globalCutoff: number; cursor: string; epoch: string }> {
  const store: RevocationStore = ctx.store;
  const now = ctx.now();
  if (store.snapshotInto) {
    const into = store.snapshotInto.bind(store);
    return ctx.auth.storeCall(() => into(now, (...args) => row(args)));
  }
  const snap = await ctx.auth.storeCall(() => store.snapshot(now));
  for (const e of snap.entries)
    if (e.kind === "jti" || e.kind === "session") row([e.kind, e.subject, e.expiresAt]);
  return snap;
}
