import * as jose from "jose";
import type { Auth } from "../auth.js";
import type { TokenRef } from "../core/evaluate.js";
import { KeyRing, loadKey } from "../core/keys.js";
import {
  encodeStatusList,
  STATUS_LIST_TYP,
  StatusBits,
  statusClaim,
  statusListClaims,
  statusListFor,
} from "../core/status-list.js";
import type { RevocationStore } from "../stores/contract.js";
import type { StatusRegistry } from "../stores/status/index.js";
import type { FailureLog } from "./failures.js";

/** Lists are cut every 15 minutes of issuance: a list stops growing after its window. */
const WINDOW_MS = 15 * 60_000;
/** `ttl` of a Status List Token: how long a consumer may cache it, seconds. */
export const STATUS_LIST_TTL_SEC = 1;
/** Lifetime (`exp - iat`) of a Status List Token, seconds. */
const LIFETIME_SEC = 300;
/** A rendered list is served again for this long, ms (bounds the CPU a busy list costs). */
const RENDER_REUSE_MS = 20;
const PAGE = 10_000;
/** Path of the status lists; a list's URI is this plus its number. */
export const STATUS_PATH = "/statuslists/";

/** What a node keeps of one list: the tokens of its indices, read from the store as they come. */
interface ListCache {
  jti: string[];
  sid: string[];
  sub: string[];
  iat: number[];
  exp: number[];
  authTime: number[];
  rendered: { at: number; jwt: string } | undefined;
}

/** What {@link StatusLists} works with. */
export interface StatusListsOptions {
  /** Where the signing keys are read. */
  store: RevocationStore;
  /**
   * The registry of indices (kept in the store, so nodes never hand out one index twice), made at
   * first use: `statusRegistryFor(store)`.
   */
  registry: () => StatusRegistry;
  /** The issuer without a trailing slash: base of the lists' URIs. */
  issuerBase: string;
  /** Access-token life, ms: how long a list's indices are kept after its window. */
  accessTtlMs: number;
  now: () => number;
  /** Logs and counts a failed purge of old indices (it runs in the background). */
  failures: FailureLog;
}

/**
 * Token Status Lists of the standalone server: gives each access token an index in the list of its
 * issuance window (allocated in the store, so nodes never hand out one index twice), and renders a
 * list as a signed Status List Token whose bits come from the node's replica, by the rule `verify`
 * applies: a bit is 1 when any grain (token, session, user, global) revokes that token.
 */
export class StatusLists {
  readonly #store: RevocationStore;
  readonly #newRegistry: () => StatusRegistry;
  readonly #base: string;
  readonly #accessTtlMs: number;
  readonly #now: () => number;
  readonly #failures: FailureLog;
  #registry: StatusRegistry | undefined;
  #ready: Promise<void> | undefined;
  readonly #lists = new Map<number, ListCache>();
  #ring: { ring: KeyRing; at: number } | undefined;
  #lastPurge = 0;

  constructor(options: StatusListsOptions) {
    this.#store = options.store;
    this.#newRegistry = options.registry;
    this.#base = options.issuerBase;
    this.#accessTtlMs = options.accessTtlMs;
    this.#now = options.now;
    this.#failures = options.failures;
  }

  async #reg(): Promise<StatusRegistry> {
    this.#registry ??= this.#newRegistry();
    this.#ready ??= this.#registry.init().catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    await this.#ready;
    return this.#registry;
  }

  /** The URI of list `list`. */
  uri(list: number): string {
    return `${this.#base}${STATUS_PATH}${list}`;
  }

  /** The `status` claim for a token about to be signed (allocates its index). */
  async tokenStatus(token: TokenRef): Promise<unknown> {
    const registry = await this.#reg();
    const now = this.#now();
    const list = statusListFor(now, WINDOW_MS);
    const keepUntil = (list + 1) * WINDOW_MS + this.#accessTtlMs + 60_000;
    const { jti, sid, sub, iat, exp } = token;
    const authTime = Math.round(token.auth_time * 1000);
    const idx = await registry.allocate(list, { jti, sid, sub, iat, exp, authTime }, keepUntil);
    if (now - this.#lastPurge > 60_000) {
      this.#lastPurge = now;
      registry.purge(now).then(
        () => this.#failures.recovered(),
        (error: unknown) => this.#failures.failed(error),
      );
    }
    return statusClaim(idx, this.uri(list));
  }

  /**
   * The Status List Token of `list`, or `null` when no token was ever given an index in it (or it
   * was dropped). Throws when the store cannot be read.
   */
  async render(list: number, auth: Auth): Promise<string | null> {
    const now = this.#now();
    let cache = this.#lists.get(list);
    if (cache?.rendered && now - cache.rendered.at < RENDER_REUSE_MS) return cache.rendered.jwt;
    const registry = await this.#reg();
    if (!cache) cache = { jti: [], sid: [], sub: [], iat: [], exp: [], authTime: [], rendered: undefined };
    for (let more = true; more; ) {
      const page = await registry.entries(list, cache.jti.length - 1, PAGE);
      more = page.length === PAGE;
      for (const e of page) {
        if (e.idx !== cache.jti.length) {
          more = false; // a hole is an insert in flight: read it next time
          break;
        }
        cache.jti.push(e.jti);
        cache.sid.push(e.sid);
        cache.sub.push(e.sub);
        cache.iat.push(e.iat);
        cache.exp.push(e.exp);
        cache.authTime.push(e.authTime);
      }
    }
    if (cache.jti.length === 0) return null;
    this.#lists.set(list, cache);
    this.#forgetOld(now);
    const bits = new StatusBits(cache.jti.length);
    for (let i = 0; i < cache.jti.length; i++) {
      const decision = auth.decide({
        jti: cache.jti[i] as string,
        sid: cache.sid[i] as string,
        sub: cache.sub[i] as string,
        iat: cache.iat[i] as number,
        exp: cache.exp[i] as number,
        auth_time: (cache.authTime[i] as number) / 1000,
      });
      bits.set(i, decision.startsWith("revoked"));
    }
    const claims = statusListClaims({
      uri: this.uri(list),
      lst: encodeStatusList(bits),
      now,
      ttlSec: STATUS_LIST_TTL_SEC,
      lifetimeSec: LIFETIME_SEC,
    });
    const jwt = await this.#sign(claims, auth);
    cache.rendered = { at: now, jwt };
    return jwt;
  }

  /** Drops the node's copy of lists whose tokens have all expired. */
  #forgetOld(now: number): void {
    for (const id of this.#lists.keys()) {
      if ((id + 1) * WINDOW_MS + this.#accessTtlMs + 60_000 <= now) this.#lists.delete(id);
    }
  }

  async #sign(claims: Record<string, unknown>, auth: Auth): Promise<string> {
    const now = this.#now();
    if (!this.#ring || now - this.#ring.at > 5000) {
      this.#ring = { ring: new KeyRing((await this.#store.listKeys()).map(loadKey)), at: now };
    }
    const key = this.#ring.ring.signingKey(auth.algorithm, now);
    if (!key) throw new Error("no signing key is active");
    return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: STATUS_LIST_TYP })
      .sign(key.signingKey);
  }
}
