// The load run's HTTP client: node:http with a keep-alive agent (Node's fetch sends
// Sec-Fetch-Mode, and the API refuses the bootstrap token on requests a browser marks), one
// latency sample per request, and transport failures returned, not thrown, so that a request in
// flight at a `kill -9` is told apart from an answer.
import http from "node:http";

/** Per-request timeout: a request that takes longer is a failure of the run. */
const TIMEOUT_MS = 30_000;

export class Client {
  constructor(maxSockets) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
    this.base = null;
    this.latencies = [];
    this.requests = 0;
  }

  /** Points the client at a (re)started server; old sockets go with the old server. */
  target(baseUrl) {
    this.agent.destroy();
    this.agent = new http.Agent({ keepAlive: true, maxSockets: this.agent.maxSockets, maxFreeSockets: this.agent.maxSockets });
    this.base = new URL(baseUrl);
  }

  /**
   * One request. Resolves to `{status, headers, body, json, sentMs, ackMs}` for an answer, or
   * `{error}` (a code such as ECONNRESET) when no answer came.
   */
  request(method, path, { token, body } = {}) {
    const headers = { accept: "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    let payload;
    if (body !== undefined) {
      payload = Buffer.from(JSON.stringify(body));
      headers["content-type"] = "application/json";
      headers["content-length"] = String(payload.length);
    }
    this.requests += 1;
    const started = process.hrtime.bigint();
    const sentMs = Date.now();
    return new Promise((resolve) => {
      const req = http.request(
        { host: this.base.hostname, port: this.base.port, method, path, headers, agent: this.agent, timeout: TIMEOUT_MS },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("error", (e) => resolve({ error: e.code ?? "response_error" }));
          res.on("end", () => {
            this.latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
            const text = Buffer.concat(chunks).toString("utf8");
            let json;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode, headers: res.headers, body: text, json, sentMs, ackMs: Date.now() });
          });
        },
      );
      req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })));
      req.on("error", (e) => resolve({ error: e.code ?? "request_error" }));
      if (payload) req.write(payload);
      req.end();
    });
  }

  close() {
    this.agent.destroy();
  }
}

/** The p-th percentile (0-100) of `values`, in the values' unit. */
export function percentile(values, p) {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
