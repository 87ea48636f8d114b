import { memoryStore } from "../../src/stores/memory.js";
import { runStoreContract } from "./store-contract.js";

runStoreContract("memory", async () => ({ store: memoryStore() }));
