import { StoreUnavailableError } from "../core/errors.js";
import type { RevocationFeed } from "../replica/feed.js";
import type {
  ChangeBatch,
  RevocationCheck,
  RevocationEntry,
  RevocationSnapshot,
  SnapshotHead,
  SnapshotSink,
} from "../stores/types.js";
import type { HttpClient } from "./http.js";

/** How a {@link RemoteFeed} reaches the server. */
export interface RemoteFeedOptions {
  /** `Authorization` header value (client_secret_basic). */
  authorization: string;
  http: HttpClient;
  /** Deadline of a snapshot download, ms. */
  snapshotTimeoutMs: number;
  /** Sees every entry and snapshot row before the replica does (key withdrawals). */
  onEntry?: (kind: string, subject: string) => void;
}

/**
 * A {@link RevocationFeed} over HTTP: the server's revocation feed endpoint, read with long polls.
 * The replica notes the time before each call; the server answers only from a read of its store that
 * started after the request arrived, so an answer (entries or an empty heartbeat) proves the replica
 * current as of that time. A remote verifier writes nothing: a data loss is cut off locally, the
 * server's nodes record it in the store.
 */
export class RemoteFeed implements RevocationFeed {
  readonly #o: RemoteFeedOptions;
  /** The `revocation_feed_endpoint` of the server's metadata (set once the metadata is read). */
  endpoint: URL | undefined;

  constructor(options: RemoteFeedOptions) {
    this.#o = options;
  }

  async #get(params: Record<string, string>, timeoutMs: number, hold = false): Promise<unknown> {
    if (!this.endpoint) throw new StoreUnavailableError("the revocation feed endpoint is not known yet");
    const url = new URL(this.endpoint);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    let answer: Awaited<ReturnType<HttpClient["get"]>>;
    try {
      answer = await this.#o.http.get(
        url,
        { authorization: this.#o.authorization, accept: "application/json" },
        timeoutMs,
        hold,
      );
    } catch (cause) {
      throw new StoreUnavailableError("the revocation feed cannot be reached", { cause });
    }
    if (answer.status !== 200) {
      let code = "";
      try {
        code = String((JSON.parse(answer.body) as { error?: unknown }).error ?? "");
      } catch {}
      throw new StoreUnavailableError(
        `the revocation feed answered ${answer.status}${code ? ` ${code}` : ""}`,
      );
    }
    try {
      return JSON.parse(answer.body) as unknown;
    } catch (cause) {
      throw new StoreUnavailableError("the revocation feed answered malformed JSON", { cause });
    }
  }

  /** The global cutoff arrives with the snapshot; a verifier never asks point questions. */
  async check(query: { jti?: string; sessionId?: string }): Promise<RevocationCheck> {
    if (query.jti !== undefined || query.sessionId !== undefined)
      throw new StoreUnavailableError("a remote verifier has no store to ask");
    return { jtiRevoked: false, sessionRevoked: false, globalCutoff: 0 };
  }

  async snapshotInto(_now: number, apply: SnapshotSink): Promise<SnapshotHead> {
    const body = (await this.#get({ snapshot: "true" }, this.#o.snapshotTimeoutMs, true)) as {
      rows?: unknown;
      global_cutoff?: unknown;
      cursor?: unknown;
      epoch?: unknown;
    };
    if (
      !Array.isArray(body.rows) ||
      typeof body.global_cutoff !== "number" ||
      typeof body.cursor !== "string" ||
      typeof body.epoch !== "string"
    ) {
      throw new StoreUnavailableError("the revocation feed answered a malformed snapshot");
    }
    const onEntry = this.#o.onEntry;
    for (const row of body.rows as unknown[][]) {
      const [kind, subject] = row;
      if (onEntry && kind !== "jti" && kind !== "session") onEntry(String(kind), String(subject));
      (apply as (...args: unknown[]) => void)(...row);
    }
    return { globalCutoff: body.global_cutoff, cursor: body.cursor, epoch: body.epoch };
  }

  async snapshot(now: number): Promise<RevocationSnapshot> {
    const entries: RevocationEntry[] = [];
    const head = await this.snapshotInto(now, (kind, subject, expiresAt) => {
      entries.push({ seq: "", kind, subject, expiresAt, reason: "", actor: "", at: 0 });
    });
    return { ...head, entries };
  }

  async changes(cursor: string, options: { waitMs: number; limit: number }): Promise<ChangeBatch> {
    const waitMs = Math.max(0, Math.floor(options.waitMs));
    const body = (await this.#get({ cursor, wait: String(waitMs) }, waitMs + 10_000)) as {
      entries?: unknown;
      cursor?: unknown;
      epoch?: unknown;
    };
    if (!Array.isArray(body.entries) || typeof body.cursor !== "string" || typeof body.epoch !== "string") {
      throw new StoreUnavailableError("the revocation feed answered a malformed batch");
    }
    const entries = body.entries as RevocationEntry[];
    const onEntry = this.#o.onEntry;
    if (onEntry) for (const e of entries) onEntry(String(e.kind), String(e.subject));
    return { entries, cursor: body.cursor, epoch: body.epoch };
  }

  /** Nothing to write: the replica has already cut off locally, and the server's nodes record the loss. */
  async addRevocation(): Promise<RevocationEntry | null> {
    return null;
  }
}
