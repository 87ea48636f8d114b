import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** An answer of {@link HttpClient.get}. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A small GET client on node:http(s) with keep-alive connections whose sockets never hold the
 * process open (a script that never closes the verifier still ends). Each call has a deadline.
 */
export class HttpClient {
  readonly #http = new HttpAgent({ keepAlive: true, maxSockets: 4 });
  readonly #https = new HttpsAgent({ keepAlive: true, maxSockets: 4 });
  readonly #pending = new Set<() => void>();

  /**
   * GETs `url` with `headers`; rejects on network errors and after `timeoutMs`. With `hold`, the
   * call keeps the process alive until it ends (someone awaits it); background calls do not.
   */
  async get(url: URL, headers: Record<string, string>, timeoutMs: number, hold = false): Promise<HttpAnswer> {
    const chunks: Buffer[] = [];
    const answer = await this.stream(url, headers, timeoutMs, hold, (chunk) => chunks.push(chunk));
    return answer.status === 200 ? { ...answer, body: Buffer.concat(chunks).toString("utf8") } : answer;
  }

  /**
   * GETs `url` and hands a 200 answer's body to `onData` as it arrives, with the answer's content
   * type (other answers are collected into `body`). Rejects on network errors, after `timeoutMs`,
   * or when `onData` throws.
   */
  stream(
    url: URL,
    headers: Record<string, string>,
    timeoutMs: number,
    hold: boolean,
    onData: (chunk: Buffer, contentType: string) => void,
  ): Promise<HttpAnswer> {
    const https = url.protocol === "https:";
    return new Promise<HttpAnswer>((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(
        url,
        { method: "GET", headers, agent: https ? this.#https : this.#http },
        (res) => {
          const ok = res.statusCode === 200;
          let body = "";
          const type = res.headers["content-type"] ?? "";
          res.on("data", (chunk: Buffer) => {
            if (!ok) {
              if (body.length < 4096) body += chunk.toString("utf8");
              return;
            }
            try {
              onData(chunk, type);
            } catch (error) {
              req.destroy(error as Error);
            }
          });
          res.on("end", () => {
            finish();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
          });
          res.on("error", (e) => {
            finish();
            reject(e);
          });
        },
      );
      const abort = () => req.destroy(new Error("request aborted"));
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      if (!hold) timer.unref();
      const finish = () => {
        clearTimeout(timer);
        this.#pending.delete(abort);
      };
      this.#pending.add(abort);
      req.on("socket", (socket) => (hold ? socket.ref() : socket.unref()));
      req.on("error", (e) => {
        finish();
        reject(e);
      });
      req.end();
    });
  }

  /** Aborts the calls in flight and closes the connections. */
  close(): void {
    for (const abort of [...this.#pending]) abort();
    this.#http.destroy();
    this.#https.destroy();
  }
}
