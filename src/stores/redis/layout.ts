/**
 * Key naming of the Redis store, the one place TypeScript builds key names (the Lua scripts build
 * the same names with `enc`; see lua/lib.ts for what each key holds).
 *
 * `P` is the configured prefix. `P{g}:*` is the global slot (feed, active index, cutoff, epoch),
 * `P{u:<user>}:*` one slot per user (sessions, index, disabled flag, cutoff, user record),
 * `Psid:<sid>` and `Prt:<hash>` lookups into a user's slot, `P{k}`, `P{n}`, `P{c}` the keys, usernames
 * and clients, `Prl:<key>` the rate-limit counters.
 */

/**
 * Percent-encodes an id for use inside a key name: everything but `A-Z a-z 0-9 - . _ ~`, byte by byte
 * (UTF-8). The Lua scripts use the same encoding (`enc`), so both sides build the same key names.
 * @example encodeKeyPart("user {1}") // "user%20%7B1%7D"
 */
export function encodeKeyPart(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    const unreserved =
      (b >= 0x30 && b <= 0x39) ||
      (b >= 0x41 && b <= 0x5a) ||
      (b >= 0x61 && b <= 0x7a) ||
      b === 0x2d ||
      b === 0x2e ||
      b === 0x5f ||
      b === 0x7e;
    out += unreserved ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

const enc = encodeKeyPart;

/** The key names of one store (one prefix). */
export class KeyLayout {
  /** The global slot's prefix, `P{g}:` (the scripts' `G`). */
  readonly g: string;

  constructor(readonly prefix: string) {
    this.g = `${prefix}{g}:`;
  }

  /** The prefix of a user's slot, `P{u:<user>}:` (the scripts' `U`). */
  user(userId: string): string {
    return `${this.prefix}{u:${enc(userId)}}:`;
  }
  /** A session record in its user's slot. */
  session(userId: string, sessionId: string): string {
    return `${this.user(userId)}s:${enc(sessionId)}`;
  }
  /** Session id -> user id lookup. */
  sid(sessionId: string): string {
    return `${this.prefix}sid:${enc(sessionId)}`;
  }
  /** Refresh-token hash -> `[userId, sessionId]` lookup. */
  rt(hash: string): string {
    return `${this.prefix}rt:${enc(hash)}`;
  }
  /** Every session by expiry, for purge. */
  get expiries(): string {
    return `${this.prefix}{x}:sessions`;
  }
  get keys(): string {
    return `${this.prefix}{k}:keys`;
  }
  get names(): string {
    return `${this.prefix}{n}:names`;
  }
  get clients(): string {
    return `${this.prefix}{c}:clients`;
  }
  /** The newest checkpoint (a hash: `t` when taken, `d` the bytes), in a slot of its own. */
  get checkpoint(): string {
    return `${this.prefix}{cp}:checkpoint`;
  }
  rate(key: string): string {
    return `${this.prefix}rl:${enc(key)}`;
  }
  /** A key of the global slot: `feed`, `active`, `cutoff`, `epoch`, `lifetimes`, `pending`, `r:<member>`. */
  global(name: string): string {
    return `${this.g}${name}`;
  }
  /** The record of an active-index member (`j:<jti>`, `s:<sid>`, `u:<user>`). */
  activeRecord(member: string): string {
    return `${this.g}r:${enc(member)}`;
  }
}
