import { memoryStore } from "../../src/stores/memory/index.js";
import { runStoreContract } from "./store-contract.js";

runStoreContract("memory", async () => ({ store: memoryStore() }));
