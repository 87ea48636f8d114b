/** The store URL lives with the stores; re-exported here for the server's existing imports. */
export {
  DEFAULT_STORE_URL,
  parseStoreUrl,
  redactStoreUrl,
  type StoreFromUrlOptions,
  type StoreLogger,
  type StoreSpec,
  storeFromUrl,
} from "../stores/url.js";
