/**
 * Type-level tests of the error codes: `AuthError.code` is the `AuthErrorCode` union, each class
 * carries its own literal (static and instance), and a `switch` over the union is checked for
 * exhaustiveness. The assertions are checked by `tsc -p tsconfig.test.json`; vitest runs them as no-ops.
 */
import { describe, expectTypeOf, it } from "vitest";
import {
  AuthError,
  type AuthErrorCode,
  type ClosedError,
  ConfigInvalidError,
  type ERROR_CODES,
  type LoginStaleError,
  RefreshInvalidError,
  type RefreshReusedError,
  RevocationUnavailableError,
  type SessionRevokedError,
  type StoreMissingError,
  type StoreUnavailableError,
  TokenExpiredError,
  TokenInvalidError,
  type TokenRevokedError,
  type UserDisabledError,
} from "../../src/index.js";

/** Every exported error class: the union of their codes must be the whole of `AuthErrorCode`. */
type ErrorClass =
  | typeof TokenInvalidError
  | typeof TokenExpiredError
  | typeof TokenRevokedError
  | typeof SessionRevokedError
  | typeof RefreshReusedError
  | typeof RefreshInvalidError
  | typeof RevocationUnavailableError
  | typeof StoreUnavailableError
  | typeof StoreMissingError
  | typeof ConfigInvalidError
  | typeof UserDisabledError
  | typeof LoginStaleError
  | typeof ClosedError;

function advice(code: AuthErrorCode): string {
  switch (code) {
    case "ERR_TOKEN_INVALID":
    case "ERR_TOKEN_EXPIRED":
    case "ERR_TOKEN_REVOKED":
    case "ERR_SESSION_REVOKED":
      return "sign in again";
    case "ERR_REFRESH_REUSED":
    case "ERR_REFRESH_INVALID":
    case "ERR_USER_DISABLED":
    case "ERR_LOGIN_STALE":
      return "ask for credentials";
    case "ERR_REVOCATION_UNAVAILABLE":
    case "ERR_STORE_UNAVAILABLE":
    case "ERR_CLOSED":
      return "retry later";
    case "ERR_CONFIG_INVALID":
    case "ERR_STORE_MISSING":
      return "fix the configuration";
    default:
      return code satisfies never;
  }
}

function incompleteAdvice(code: AuthErrorCode): string {
  switch (code) {
    case "ERR_TOKEN_EXPIRED":
      return "refresh";
    default:
      // @ts-expect-error a switch that leaves codes out is a compile error
      return code satisfies never;
  }
}

describe("AuthErrorCode", () => {
  it("is the type of AuthError.code, narrowed by a switch", () => {
    expectTypeOf<AuthError["code"]>().toEqualTypeOf<AuthErrorCode>();
    expectTypeOf(advice).parameter(0).toEqualTypeOf<AuthErrorCode>();
    expectTypeOf(incompleteAdvice).returns.toBeString();
  });

  it("is exactly the codes of the exported classes, and of ERROR_CODES", () => {
    expectTypeOf<ErrorClass["code"]>().toEqualTypeOf<AuthErrorCode>();
    expectTypeOf<InstanceType<ErrorClass>["code"]>().toEqualTypeOf<AuthErrorCode>();
    expectTypeOf<(typeof ERROR_CODES)[number]>().toEqualTypeOf<AuthErrorCode>();
  });

  it("no longer holds the removed ERR_SESSION_NOT_FOUND", () => {
    // @ts-expect-error SessionNotFoundError was never thrown and is gone
    const removed: AuthErrorCode = "ERR_SESSION_NOT_FOUND";
    expectTypeOf(removed).toEqualTypeOf<AuthErrorCode>();
  });
});

describe("error classes", () => {
  it("carry their own code as a literal, static and per instance", () => {
    // Type arguments, not values: expectTypeOf(value) would widen a literal to string.
    expectTypeOf<typeof TokenExpiredError.code>().toEqualTypeOf<"ERR_TOKEN_EXPIRED">();
    expectTypeOf<TokenExpiredError["code"]>().toEqualTypeOf<"ERR_TOKEN_EXPIRED">();
    expectTypeOf<TokenInvalidError["code"]>().toEqualTypeOf<"ERR_TOKEN_INVALID">();
    expectTypeOf<typeof RevocationUnavailableError.code>().toEqualTypeOf<"ERR_REVOCATION_UNAVAILABLE">();
  });

  it("narrow by code after instanceof AuthError", () => {
    const check = (error: unknown) => {
      if (error instanceof AuthError && error.code === TokenExpiredError.code) {
        expectTypeOf(error.code).toEqualTypeOf<"ERR_TOKEN_EXPIRED">();
      }
    };
    expectTypeOf(check).returns.toBeVoid();
  });

  it("carry structured fields, not text in the message", () => {
    expectTypeOf(new TokenInvalidError("kid").reason).toEqualTypeOf<
      | "malformed"
      | "too_long"
      | "alg"
      | "kid"
      | "typ"
      | "crit"
      | "embedded_key"
      | "signature"
      | "claims"
      | "iss"
      | "aud"
      | "nbf"
      | "iat"
      | "token_type"
    >();
    expectTypeOf(new RefreshInvalidError("expired").reason).toEqualTypeOf<
      "unknown" | "expired" | "idle_expired" | "revoked"
    >();
    expectTypeOf(new RevocationUnavailableError().retryAfter).toBeNumber();
    expectTypeOf(new ConfigInvalidError("issuer", "must be a URL").option).toBeString();
  });

  it("have an abstract base: every error is one of the coded subclasses", () => {
    // @ts-expect-error AuthError is abstract
    const base = () => new AuthError("no code");
    expectTypeOf(base).toBeFunction();
  });
});
