// Starts, kills (SIGKILL) and restarts a real `portcullis serve` on one data directory, and
// runs its operator commands. Only on 127.0.0.1; the child's PORTCULLIS_* environment is ours
// alone (inherited variables are dropped).
import { spawn, execFileSync } from "node:child_process";
import { createInterface } from "node:readline";
import { createWriteStream } from "node:fs";
import { join } from "node:path";

const START_TIMEOUT_MS = 300_000;

export class Server {
  /**
   * `bin`: the portcullis binary; `component`: the .wasm; `data`: the data directory;
   * `backend`: `{sql, kv}` URLs or null for SQLite; `cacheDir`: compiled components.
   */
  constructor({ bin, component, data, backend, cacheDir, logDir }) {
    Object.assign(this, { bin, component, data, backend, logDir });
    this.env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PORTCULLIS_")));
    this.env.PORTCULLIS_KNOWN_SCOPES = "read:all,exec:notebook,read:image,write:files";
    this.env.PORTCULLIS_HOST_CACHE_DIR = cacheDir;
    this.child = null;
    this.starts = 0;
    this.serverErrors = 0; // 5xx lines in the server's own log, a cross-check of the client's count
    this.errorNotes = new Map(); // guest error log kinds of 5xx answers (never a token)
  }

  args(command, extra = []) {
    const args = [command, "--data", this.data, "--component", this.component, ...extra];
    if (this.backend) args.push("--sql", this.backend.sql, "--kv", this.backend.kv);
    return args;
  }

  /** Runs an operator command to completion and returns its stdout. */
  command(command, extra = []) {
    return execFileSync(this.bin, this.args(command, extra), { env: this.env, encoding: "utf8", timeout: START_TIMEOUT_MS, stdio: ["ignore", "pipe", "pipe"] });
  }

  /** Starts `serve` and resolves to its base URL once it listens. */
  async start() {
    this.starts += 1;
    const log = createWriteStream(join(this.logDir, `serve-${this.starts}.stderr`));
    const child = spawn(this.bin, this.args("serve", ["--listen", "127.0.0.1:0", "--expire-interval", "0"]), {
      env: this.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    child.stderr.pipe(log);
    const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
    this.exited = exited;
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`portcullis serve did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        fail(new Error(`portcullis serve exited (${code ?? signal}) before listening; see ${log.path}`));
      });
      createInterface({ input: child.stdout }).on("line", (line) => {
        const m = /^portcullis: listening on (http:\/\/\S+)$/.exec(line);
        if (m) {
          clearTimeout(timer);
          ok(m[1]);
          return;
        }
        // "METHOD /path STATUS 1.2ms [guest error log]": paths and error kinds only.
        const r = /^[A-Z]+ \S+ (5\d\d) [0-9.]+ms\s*(.*)$/.exec(line);
        if (r) {
          this.serverErrors += 1;
          const note = r[2].split(":")[0].slice(0, 60) || "(none)";
          this.errorNotes.set(note, (this.errorNotes.get(note) ?? 0) + 1);
        }
      });
    });
  }

  /** `kill -9`, and waits until the process is gone. */
  async kill() {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    child.kill("SIGKILL");
    await this.exited;
  }

  /** A clean stop (SIGTERM), bounded: SIGKILL after 10 s. */
  async stop() {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}
