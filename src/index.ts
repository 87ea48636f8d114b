/**
 * revokit: JWT authentication where logout actually works.
 * @example
 * import { createAuth, memoryStore } from "revokit";
 * const auth = await createAuth({ issuer: "https://auth.example.com", audience: "api", store: memoryStore() });
 */
export {
  Auth,
  type AuthOptions,
  type AuthStatus,
  createAuth,
  type LoginOptions,
  type RefreshTokenInfo,
  type RevokeOptions,
  type SessionInfo,
  type TokenSet,
  type VerifyOptions,
} from "./auth.js";
export { type AccessTokenClaims, RESERVED_CLAIMS } from "./core/access-token.js";
export { type Duration, parseDuration } from "./core/duration.js";
export * from "./core/errors.js";
export { type Decision, evaluate, type RevocationFacts, type TokenRef } from "./core/evaluate.js";
export {
  type HttpError,
  httpErrorFor,
  insufficientScopeError,
  invalidRequestError,
  missingTokenError,
} from "./core/http-errors.js";
export { ALGORITHMS, type Algorithm, type KeyInput } from "./core/keys.js";
export type { Logger } from "./core/logger.js";
export type * from "./core/model.js";
export { decideRotation, type RotationDecision } from "./core/refresh.js";
export {
  AuthMetrics,
  type CollectMetricsOptions,
  collectMetrics,
  PROPAGATION_BUCKETS,
} from "./metrics.js";
export type { ReplicaStatus } from "./replica/replica.js";
export type * from "./stores/contract.js";
export { memoryStore } from "./stores/memory/index.js";
export {
  DEFAULT_STORE_URL,
  parseStoreUrl,
  redactStoreUrl,
  type StoreFromUrlOptions,
  type StoreSpec,
  storeFromUrl,
} from "./stores/url.js";
