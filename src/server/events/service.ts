import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import * as jose from "jose";
import { errorText } from "../../core/error-text.js";
import { type Algorithm, KeyRing, loadKey } from "../../core/keys.js";
import { eventId, eventsFor, setClaims } from "../../core/set.js";
import type { AccountStore, RevocationStore } from "../../stores/contract.js";
import type { EventOutbox, EventReceiver, OutboxEvent } from "../../stores/outbox/index.js";
import type { FailureLog } from "../failures.js";

/** How often the lease holder reads the feed and the outbox, ms. */
const TICK_MS = 50;
/** Lease life and renewal period, ms: a node that dies hands over within the life. */
const LEASE_MS = 5000;
const RENEW_MS = 1000;
/** First retry after this long, doubling up to {@link MAX_BACKOFF_MS}. */
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 5 * 60_000;
/** A receiver gets this long to answer one SET, ms. */
const POST_TIMEOUT_MS = 10_000;
/** Parallel deliveries. */
const PARALLEL = 8;
/** How often the lease holder counts the outbox for `/metrics`, ms. */
const COUNT_MS = 10_000;
/** Feed entries read per page, and pages at most per step (a first start reads the retained history). */
const PAGE = 1000;
const MAX_PAGES = 100;
/** Delivered and failed events are kept this long, for diagnostics. */
const KEEP_MS = 24 * 3600_000;

/** Delivery counters for `/metrics`. */
export interface EventMetrics {
  /** Delivery attempts by outcome: `delivered`, `rejected` (400: not retried), `retry`. */
  attempts: Map<string, number>;
  /** Last outbox counts by state (`pending`, `delivered`, `failed`), refreshed by the lease holder. */
  outbox: Record<string, number>;
  /** Whether this node holds the delivery lease. */
  leader: boolean;
}

/** What an {@link EventService} works with. */
export interface EventServiceOptions {
  /** The revocation feed, the sessions a user cutoff ended, and the signing keys. */
  store: RevocationStore;
  /** The clients: only those that still exist receive events. */
  clients: Pick<AccountStore, "getClient">;
  /** The durable outbox in the same store (`eventOutboxFor(store)`). */
  outbox: EventOutbox;
  /** The issuer's signing algorithm: events are signed with its current key. */
  algorithm: Algorithm;
  issuer: string;
  now: () => number;
  /** Logs and counts a failed step (reading the feed, the outbox); it runs again at the next tick. */
  steps: FailureLog;
  /** Logs a failed delivery, per receiver (counted by outcome in {@link EventMetrics.attempts}). */
  deliveries: FailureLog;
}

/**
 * Pushed security events: generates OpenID CAEP Security Event Tokens from the store's revocation
 * feed (so every node's revocations, and the CLI's, are covered) into a durable outbox in the store,
 * and delivers them by RFC 8935 push to every registered receiver, at least once, with exponential
 * backoff. One node at a time does this work, under a lease in the store.
 */
export class EventService {
  readonly metrics: EventMetrics = { attempts: new Map(), outbox: {}, leader: false };
  readonly #store: RevocationStore;
  readonly #clients: Pick<AccountStore, "getClient">;
  readonly #algorithm: Algorithm;
  readonly #issuer: string;
  readonly #outbox: EventOutbox;
  readonly #now: () => number;
  readonly #owner = randomBytes(12).toString("base64url");
  readonly #steps: FailureLog;
  readonly #deliveries: FailureLog;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;
  #leaseAt = Number.NEGATIVE_INFINITY;
  #ring: { ring: KeyRing; at: number } | undefined;
  #lastPurge = 0;
  #initialized = false;
  #hasReceivers = false;
  #countedAt = Number.NEGATIVE_INFINITY;

  constructor(options: EventServiceOptions) {
    this.#store = options.store;
    this.#clients = options.clients;
    this.#outbox = options.outbox;
    this.#algorithm = options.algorithm;
    this.#issuer = options.issuer;
    this.#now = options.now;
    this.#steps = options.steps;
    this.#deliveries = options.deliveries;
  }

  /** Starts the background work (timers unref'd). */
  start(): void {
    this.#timer = setInterval(() => {
      this.#running ??= this.#tick()
        .then(
          () => this.#steps.recovered(),
          (error: unknown) => this.#steps.failed(error),
        )
        .finally(() => {
          this.#running = undefined;
        });
    }, TICK_MS);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    if (this.#closed) return;
    if (!this.#initialized) {
      await this.#outbox.init();
      this.#initialized = true;
    }
    const now = this.#now();
    if (now - this.#leaseAt >= RENEW_MS) {
      this.metrics.leader = await this.#outbox.lease(this.#owner, now, LEASE_MS);
      this.#leaseAt = now;
      if (this.metrics.leader) {
        if (now - this.#countedAt >= COUNT_MS) {
          this.#countedAt = now;
          this.metrics.outbox = await this.#outbox.counts();
        }
        this.#hasReceivers = (await this.#outbox.receivers()).length > 0;
      }
    }
    // Nothing to generate for nobody; a receiver added later gets what happened since it was added.
    if (!this.metrics.leader || (!this.#hasReceivers && (this.metrics.outbox.pending ?? 0) === 0)) return;
    for (let page = 0; page < MAX_PAGES && (await this.#generate()); page++) {}
    await this.#deliver();
    if (now - this.#lastPurge > 3600_000) {
      this.#lastPurge = now;
      await this.#outbox.purge(now - KEEP_MS);
    }
  }

  /** Reads one page of the feed after the outbox's cursor and adds the events it means; `true` when more may follow. */
  async #generate(): Promise<boolean> {
    const saved = await this.#outbox.getCursor();
    const state = saved
      ? (JSON.parse(saved) as { cursor: string; epoch: string })
      : { cursor: "", epoch: "" };
    const batch = await this.#store.changes(state.cursor, { waitMs: 0, limit: PAGE });
    if (state.epoch !== "" && batch.epoch !== state.epoch) {
      // The store lost its data: read what it has again from the start (events are added once).
      await this.#outbox.setCursor(JSON.stringify({ cursor: "", epoch: batch.epoch }));
      return true;
    }
    if (batch.entries.length > 0) {
      // Only clients that still exist receive events.
      const receivers: EventReceiver[] = [];
      for (const r of await this.#outbox.receivers()) {
        if (await this.#clients.getClient(r.clientId)) receivers.push(r);
      }
      const events: OutboxEvent[] = [];
      const now = this.#now();
      for (const entry of batch.entries) {
        const to = receivers.filter((r) => entry.at >= r.since);
        if (to.length === 0) continue;
        // A user-wide revocation is one cutoff: the sessions it ended are read from the store (a read
        // bounded by the per-user session cap). When the read fails, the whole step fails before the
        // cursor moves, and the next tick reads this page again: no event is lost, none added twice.
        const ended =
          entry.kind === "user"
            ? (
                await this.#store.listSessionsCutOff(entry.subject, {
                  cutoff: entry.cutoff ?? entry.at,
                  exceptSessionId: entry.exceptSessionId ?? null,
                })
              ).map((s) => s.id)
            : [];
        for (const receiver of to) {
          for (const event of eventsFor(entry, this.#issuer, ended)) {
            const jti = eventId(entry, event, receiver.clientId);
            const set = await this.#sign(
              setClaims(event, { issuer: this.#issuer, audience: receiver.clientId, jti, now }),
            );
            events.push({
              id: jti,
              clientId: receiver.clientId,
              set,
              createdAt: now,
              nextAt: now,
              attempts: 0,
              state: "pending",
              lastError: null,
            });
          }
        }
      }
      await this.#outbox.add(events);
    }
    if (batch.cursor !== state.cursor || batch.epoch !== state.epoch) {
      await this.#outbox.setCursor(JSON.stringify({ cursor: batch.cursor, epoch: batch.epoch }));
    }
    return batch.entries.length === PAGE;
  }

  /** Signs SET claims with the issuer's current signing key (`typ: secevent+jwt`). */
  async #sign(claims: Record<string, unknown>): Promise<string> {
    const now = this.#now();
    if (!this.#ring || now - this.#ring.at > 5000) {
      this.#ring = { ring: new KeyRing((await this.#store.listKeys()).map(loadKey)), at: now };
    }
    const key = this.#ring.ring.signingKey(this.#algorithm, now);
    if (!key) throw new NoSigningKeyError("no signing key is active");
    return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "secevent+jwt" })
      .sign(key.signingKey);
  }

  /** Pushes the due events (RFC 8935): 2xx delivered, 400 rejected for good, anything else retried. */
  async #deliver(): Promise<void> {
    const due = await this.#outbox.due(this.#now(), PARALLEL * 4);
    if (due.length === 0) return;
    const receivers = new Map((await this.#outbox.receivers()).map((r) => [r.clientId, r]));
    for (let i = 0; i < due.length; i += PARALLEL) {
      await Promise.all(
        due.slice(i, i + PARALLEL).map((e) => this.#deliverOne(e, receivers.get(e.clientId))),
      );
    }
  }

  async #deliverOne(event: OutboxEvent, receiver: EventReceiver | undefined): Promise<void> {
    const attempts = event.attempts + 1;
    if (!receiver) {
      await this.#outbox.update(event.id, {
        state: "failed",
        nextAt: event.nextAt,
        attempts,
        lastError: "receiver removed",
      });
      return;
    }
    let outcome: { status: number; error: string | null };
    try {
      outcome = await post(new URL(receiver.url), event.set);
    } catch (error) {
      // A socket's message (`connect ECONNREFUSED 10.0.0.5:443`) carries no data: kept for diagnostics.
      outcome = { status: 0, error: errorText(error, { withMessage: true }) };
    }
    const now = this.#now();
    if (outcome.status >= 200 && outcome.status < 300) {
      this.#count("delivered");
      this.#deliveries.recovered(receiver.clientId);
      await this.#outbox.update(event.id, { state: "delivered", nextAt: now, attempts, lastError: null });
    } else if (outcome.status === 400) {
      this.#count("rejected");
      const lastError = `400 ${outcome.error ?? ""}`.trim();
      this.#deliveries.failed(
        lastError,
        { clientId: receiver.clientId, outcome: "rejected" },
        receiver.clientId,
      );
      await this.#outbox.update(event.id, { state: "failed", nextAt: now, attempts, lastError });
    } else {
      this.#count("retry");
      const backoff = Math.min(FIRST_BACKOFF_MS * 2 ** (attempts - 1), MAX_BACKOFF_MS);
      const jitter = backoff * 0.2 * Math.random();
      const lastError = outcome.status === 0 ? (outcome.error ?? "unreachable") : `HTTP ${outcome.status}`;
      this.#deliveries.failed(
        lastError,
        { clientId: receiver.clientId, outcome: "retry" },
        receiver.clientId,
      );
      await this.#outbox.update(event.id, {
        state: "pending",
        nextAt: now + backoff + jitter,
        attempts,
        lastError,
      });
    }
  }

  #count(outcome: string): void {
    this.metrics.attempts.set(outcome, (this.metrics.attempts.get(outcome) ?? 0) + 1);
  }

  /** Registers (or removes, with `null`) the receiver of a client. */
  async setReceiver(clientId: string, url: string | null): Promise<void> {
    await this.#outbox.init();
    await this.#outbox.setReceiver(clientId, url, this.#now());
  }

  /** Stops the background work (an attempt in flight finishes; its event stays pending if cut short). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }
}

/** No key may sign now; the step runs again at the next tick. Named, as logs show an error's name only. */
class NoSigningKeyError extends Error {
  override name = "NoSigningKeyError";
}

/** POSTs one SET; resolves with the status and, for a 400, the receiver's `err` code. */
function post(url: URL, set: string): Promise<{ status: number; error: string | null }> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(
      url,
      {
        method: "POST",
        headers: {
          "content-type": "application/secevent+jwt",
          accept: "application/json",
          "content-length": Buffer.byteLength(set),
        },
        timeout: POST_TIMEOUT_MS,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          if (body.length < 4096) body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, error: errCode(body) }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("the receiver did not answer in time")));
    req.on("socket", (s) => s.unref());
    req.on("error", reject);
    req.end(set);
  });
}

/**
 * The `err` code of a receiver's answer (RFC 8935 §2.3: a JSON object), or `null`. Any other body
 * (empty, HTML from a proxy) is an answer without a code, not a failure: the status decides.
 */
function errCode(body: string): string | null {
  if (!body.trimStart().startsWith("{")) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null; // truncated or malformed: no code to report
  }
  const err = (parsed as { err?: unknown } | null)?.err;
  return typeof err === "string" ? err.slice(0, 100) : null;
}
