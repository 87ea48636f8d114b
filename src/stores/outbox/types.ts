/**
 * The durable state of pushed security events, kept in the same store as the revocations so that
 * every node sharing a store shares it: event receivers, the outbox of signed Security Event Tokens
 * waiting for delivery, the position in the revocation feed the events were generated up to, and
 * the lease that lets one node at a time generate and deliver. Implemented for every store.
 */

/** Delivery state of one event. */
export type OutboxState = "pending" | "delivered" | "failed";

/** One Security Event Token for one receiver. */
export interface OutboxEvent {
  /** The SET's `jti`: derived from the revocation and the receiver, so generating it twice adds it once. */
  id: string;
  /** The receiving client. */
  clientId: string;
  /** The signed SET (compact JWS). */
  set: string;
  createdAt: number;
  /** When to try (again); ms. */
  nextAt: number;
  /** Delivery attempts so far. */
  attempts: number;
  state: OutboxState;
  /** Why the last attempt failed (status or error text; never the SET), `null` before. */
  lastError: string | null;
}

/** A client that receives events, and since when (revocations before it are not sent). */
export interface EventReceiver {
  clientId: string;
  url: string;
  since: number;
}

/** The store side of pushed security events. Every method is idempotent and safe to retry. */
export interface EventOutbox {
  /** Creates what the outbox needs in the store (tables, ...). Idempotent. */
  init(): Promise<void>;
  /** Registers (or, with `null`, removes) the receiver of `clientId`; keeps `since` when the URL is unchanged. */
  setReceiver(clientId: string, url: string | null, now: number): Promise<void>;
  /** Every receiver. */
  receivers(): Promise<EventReceiver[]>;
  /** The feed position events were generated up to (opaque), `null` before the first. */
  getCursor(): Promise<string | null>;
  setCursor(value: string): Promise<void>;
  /**
   * Takes or renews the delivery lease for `owner` until `now + ttlMs`. Atomic across nodes: returns
   * `true` only to the holder (a lease whose time has passed may be taken by anyone).
   */
  lease(owner: string, now: number, ttlMs: number): Promise<boolean>;
  /** Adds events; an event whose id is already there is left as it is. */
  add(events: OutboxEvent[]): Promise<void>;
  /** Pending events due at `now`, oldest first, at most `limit`. */
  due(now: number, limit: number): Promise<OutboxEvent[]>;
  /** Records the outcome of an attempt. */
  update(id: string, change: Pick<OutboxEvent, "state" | "nextAt" | "attempts" | "lastError">): Promise<void>;
  /** Events by state. */
  counts(): Promise<Record<OutboxState, number>>;
  /** Deletes delivered and failed events created before `before`. */
  purge(before: number): Promise<void>;
}
