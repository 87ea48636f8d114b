/**
 * The parent side of a child process driven over IPC (protocol in test/fixtures/node-ipc.mjs):
 * fork, wait for `ready`, send operations, get replies (a failure is a reply with its code).
 */
import { type ChildProcess, fork } from "node:child_process";

/** A reply of the child. */
export interface IpcReply {
  ok: boolean;
  result?: unknown;
  code?: string;
  message?: string;
}

/** One child process answering `{ id, op, args }` messages. */
export class IpcChild {
  readonly child: ChildProcess;
  readonly #waiting = new Map<number, (reply: IpcReply) => void>();
  #next = 0;

  private constructor(child: ChildProcess) {
    this.child = child;
    child.on("message", (msg: IpcReply & { id?: number }) => {
      if (msg.id === undefined) return;
      this.#waiting.get(msg.id)?.(msg);
      this.#waiting.delete(msg.id);
    });
    child.once("exit", () => {
      for (const resolve of this.#waiting.values()) resolve({ ok: false, code: "ERR_CHILD_EXITED" });
      this.#waiting.clear();
    });
  }

  /** Forks `script` with `args` and waits for its `ready` message (rejects if it exits first). */
  static async start(script: string, args: string[]): Promise<IpcChild> {
    const child = fork(script, args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    await new Promise<void>((resolve, reject) => {
      child.once("message", () => resolve());
      child.once("exit", (code) => reject(new Error(`${script} exited (${code}) before it was ready`)));
    });
    return new IpcChild(child);
  }

  /** Sends one operation; resolves with the raw reply. */
  call(op: string, ...args: unknown[]): Promise<IpcReply> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.child.send({ id, op, args });
    });
  }

  /** Sends one operation that must succeed; resolves with its result. */
  async ok<T>(op: string, ...args: unknown[]): Promise<T> {
    const reply = await this.call(op, ...args);
    if (!reply.ok) throw new Error(`${op} failed: ${reply.code} ${reply.message}`);
    return reply.result as T;
  }

  /** SIGKILLs the child and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGKILL");
    await exited;
  }
}
