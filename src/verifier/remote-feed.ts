import { StringDecoder } from "node:string_decoder";
import { StoreUnavailableError } from "../core/errors.js";
import type {
  ChangeBatch,
  RevocationCheck,
  RevocationEntry,
  RevocationSnapshot,
  SnapshotHead,
  SnapshotSink,
} from "../core/model.js";
import type { RevocationFeed } from "../replica/feed.js";
import type { RevocationIndex } from "../replica/index.js";
import { parseHead, SnapshotDecoder } from "../replica/snapshot-codec.js";
import type { HttpClient } from "./http.js";

/** Media type of the server's compact snapshot (see src/replica/snapshot-codec.ts). */
const BINARY_SNAPSHOT_TYPE = "application/vnd.revokit.snapshot";

/** How a {@link RemoteFeed} reaches the server. */
export interface RemoteFeedOptions {
  /** `Authorization` header value (client_secret_basic). */
  authorization: string;
  http: HttpClient;
  /** Deadline of a snapshot download, ms. */
  snapshotTimeoutMs: number;
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
      } catch {
        // A body that is not JSON (a proxy's error page): the status alone is reported.
      }
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
    return { jtiRevoked: false, sessionRevoked: false, globalCutoff: 0, user: null };
  }

  /**
   * Streams the server's snapshot into `apply` as it arrives, the head last. Given `indexes` that
   * take raw words, it asks for the binary form (`jti` and `session` ids as 128-bit words, added
   * straight into `indexes`: no string per entry); a server that only knows the text form answers
   * lines, `kind<TAB>subject<TAB>expiresAt` (or a JSON array for a row of another shape).
   */
  async snapshotInto(
    _now: number,
    apply: SnapshotSink,
    indexes?: { jtis: RevocationIndex; sessions: RevocationIndex },
  ): Promise<SnapshotHead> {
    if (!this.endpoint) throw new StoreUnavailableError("the revocation feed endpoint is not known yet");
    const url = new URL(this.endpoint);
    url.searchParams.set("snapshot", "true");
    const sink = apply as (...args: unknown[]) => void;
    const binary = indexes?.jtis.addWords !== undefined && indexes.sessions.addWords !== undefined;
    let head: SnapshotHead | undefined;
    const line = (text: string) => {
      if (text === "") return;
      if (head) throw new Error("the snapshot goes on after its head");
      const first = text.charCodeAt(0);
      if (first === 0x7b /* { */) {
        head = parseHead(text);
        return;
      }
      if (first === 0x5b /* [ */) {
        const row = JSON.parse(text) as unknown[];
        sink(...row);
        return;
      }
      const a = text.indexOf("\t");
      const b = text.indexOf("\t", a + 1);
      if (a < 0 || b < 0) throw new Error("a snapshot line is malformed");
      const subject = text.slice(a + 1, b);
      sink(
        text.slice(0, a),
        subject.includes("%") ? decodeURIComponent(subject) : subject,
        Number(text.slice(b + 1)),
      );
    };
    let rest = "";
    const decoder = new StringDecoder("utf8");
    const onText = (text: string) => {
      const all = rest + text;
      let from = 0;
      for (let nl = all.indexOf("\n"); nl >= 0; nl = all.indexOf("\n", from)) {
        line(all.slice(from, nl));
        from = nl + 1;
      }
      rest = all.slice(from);
    };
    const frames =
      binary && indexes ? new SnapshotDecoder({ ...indexes, row: (r) => sink(...r) }) : undefined;
    let format: "text" | "binary" | undefined;
    let answer: Awaited<ReturnType<HttpClient["stream"]>>;
    try {
      answer = await this.#o.http.stream(
        url,
        {
          authorization: this.#o.authorization,
          accept: binary ? `${BINARY_SNAPSHOT_TYPE}; version=1, text/plain;q=0.5` : "text/plain",
        },
        this.#o.snapshotTimeoutMs,
        true,
        (chunk, contentType) => {
          format ??= frames && contentType.startsWith(BINARY_SNAPSHOT_TYPE) ? "binary" : "text";
          if (format === "text") onText(decoder.write(chunk));
          else frames?.push(chunk);
        },
      );
    } catch (cause) {
      throw new StoreUnavailableError("the revocation feed snapshot failed", { cause });
    }
    if (answer.status !== 200)
      throw new StoreUnavailableError(`the revocation feed answered ${answer.status}`);
    if (format === "binary" && frames) {
      try {
        return frames.end();
      } catch (cause) {
        throw new StoreUnavailableError("the revocation feed snapshot ended early", { cause });
      }
    }
    rest += decoder.end();
    if (rest !== "") line(rest);
    if (!head) throw new StoreUnavailableError("the revocation feed snapshot ended early");
    return head;
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
    return { entries, cursor: body.cursor, epoch: body.epoch };
  }

  /** Nothing to write: the replica has already cut off locally, and the server's nodes record the loss. */
  async addRevocation(): Promise<RevocationEntry | null> {
    return null;
  }
}
