import type { Auth } from "../auth.js";
import { randomId } from "../core/ids.js";
import type { UserRecord } from "../core/model.js";
import type { AccountStore } from "../stores/contract.js";
import {
  DEFAULT_PASSWORD_POLICY,
  DummyHash,
  hashSecret,
  type PasswordPolicy,
  verifySecret,
} from "./passwords.js";

/** Usernames: 3 to 64 letters, digits, `.`, `_`, `-`, `@`. Stored lower-cased. */
export const USERNAME_PATTERN = /^[A-Za-z0-9._@-]{3,64}$/;
/** Shortest password, in characters (code points). */
export const PASSWORD_MIN = 8;
/** Longest password, in characters (code points). */
export const PASSWORD_MAX = 256;

/** Why a username is refused, or `null` when it is acceptable. */
export function usernameProblem(username: unknown): string | null {
  if (typeof username !== "string") return "username must be a string";
  if (!USERNAME_PATTERN.test(username)) {
    return "username must be 3 to 64 characters of letters, digits, '.', '_', '-' and '@'";
  }
  return null;
}

/** Why a password is refused, or `null` when it is acceptable. */
export function passwordProblem(password: unknown, name = "password"): string | null {
  if (typeof password !== "string") return `${name} must be a string`;
  const length = [...password].length;
  if (length < PASSWORD_MIN || length > PASSWORD_MAX) {
    return `${name} must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters`;
  }
  return null;
}

/** Outcome of {@link Users.authenticate}. */
export type Authentication =
  | { status: "ok"; user: UserRecord }
  | { status: "invalid" }
  /** The password was right but the account is disabled. */
  | { status: "disabled"; user: UserRecord };

/**
 * The server's user accounts, kept in the store: registration, password checks (argon2id by default,
 * constant time, a dummy check for unknown names so timing reveals nothing), password changes.
 */
export class Users {
  readonly #auth: Pick<Auth, "storeCall">;
  readonly #store: AccountStore;
  readonly #params: PasswordPolicy;
  readonly #dummy: DummyHash;

  /**
   * The accounts live in `store`; `auth.storeCall` turns its failures into 503s. `params` is how new
   * hashes are made; older or weaker hashes are upgraded at the next successful login.
   */
  constructor(
    auth: Pick<Auth, "storeCall">,
    store: AccountStore,
    params: PasswordPolicy = DEFAULT_PASSWORD_POLICY,
  ) {
    this.#auth = auth;
    this.#store = store;
    this.#params = params;
    this.#dummy = new DummyHash(params);
  }

  /** Creates a user (the caller has validated the inputs). `null` when the name is taken. */
  async register(username: string, password: string, now: number): Promise<UserRecord | null> {
    const user: UserRecord = {
      id: randomId(),
      username: username.toLowerCase(),
      passwordHash: await hashSecret(password, this.#params),
      createdAt: now,
      disabledAt: null,
    };
    const result = await this.#auth.storeCall(() => this.#store.createUser(user));
    return result === "created" ? user : null;
  }

  /** A user by (case-insensitive) name. */
  byName(username: string): Promise<UserRecord | null> {
    return this.#auth.storeCall(() => this.#store.getUserByName(username.toLowerCase()));
  }

  /** A user by id. */
  byId(userId: string): Promise<UserRecord | null> {
    return this.#auth.storeCall(() => this.#store.getUser(userId));
  }

  /**
   * Checks a username and password. Takes the same time whether or not the user exists. A disabled
   * account is reported only when the password is right.
   */
  async authenticate(username: string, password: string): Promise<Authentication> {
    const user = USERNAME_PATTERN.test(username) ? await this.byName(username) : null;
    if (!user) {
      await this.#dummy.burn(password);
      return { status: "invalid" };
    }
    const check = await verifySecret(password, user.passwordHash, this.#params);
    if (!check.ok) return { status: "invalid" };
    if (check.rehash) {
      const upgraded = await hashSecret(password, this.#params);
      await this.#auth.storeCall(() => this.#store.setPasswordHash(user.id, upgraded));
    }
    return user.disabledAt === null ? { status: "ok", user } : { status: "disabled", user };
  }

  /** Checks a user's password (for a password change). */
  async checkPassword(user: UserRecord, password: string): Promise<boolean> {
    return (await verifySecret(password, user.passwordHash, this.#params)).ok;
  }

  /** Replaces a user's password. Returns `false` when the user no longer exists. */
  async setPassword(userId: string, password: string): Promise<boolean> {
    const hash = await hashSecret(password, this.#params);
    return this.#auth.storeCall(() => this.#store.setPasswordHash(userId, hash));
  }
}
