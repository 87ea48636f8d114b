/** The checkpoint of a Redis store: one hash in a slot of its own (see `RevocationStore.readCheckpoint`). */
import { StoreUnavailableError } from "../../core/errors.js";
import type { RevocationCheckpoint } from "../../core/model.js";
import type { RedisContext } from "./context.js";
import { WRITE_CHECKPOINT } from "./lua/accounts.js";
import { int } from "./replies.js";

/** The newest checkpoint, or `null`. */
export async function readCheckpoint({ conn, keys }: RedisContext): Promise<RevocationCheckpoint | null> {
  const reply = await conn.sendBuffer("HMGET", keys.checkpoint, "t", "d");
  if (!Array.isArray(reply) || reply.length !== 2)
    throw new StoreUnavailableError("unexpected checkpoint reply from redis");
  const [takenAt, data] = reply as unknown[];
  if (takenAt === null || data === null) return null;
  if (!Buffer.isBuffer(takenAt) || !Buffer.isBuffer(data))
    throw new StoreUnavailableError("unexpected checkpoint reply from redis");
  return { takenAt: Number(takenAt.toString("latin1")), data };
}

/** When the newest checkpoint was taken, 0 when none. */
export async function checkpointTakenAt({ conn, keys }: RedisContext): Promise<number> {
  const reply = await conn.send("HGET", keys.checkpoint, "t");
  return typeof reply === "string" ? Number(reply) : 0;
}

/** Stores `checkpoint` unless the stored one was taken at the same time or later (one script). */
export async function writeCheckpoint(
  { conn, keys }: RedisContext,
  checkpoint: RevocationCheckpoint,
): Promise<boolean> {
  const data = Buffer.from(checkpoint.data.buffer, checkpoint.data.byteOffset, checkpoint.data.byteLength);
  return int(await conn.run(WRITE_CHECKPOINT, [keys.checkpoint], [checkpoint.takenAt, data])) === 1;
}
