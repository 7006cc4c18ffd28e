// Starts the test build of the Worker (scripts/worker-build.sh --test) on local workerd through
// `wrangler dev --local`, on free loopback ports with fresh local KV and D1 state, and stops it.
// Every wait is bounded. Nothing contacts Cloudflare.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "../..");
const wrangler = join(root, "node_modules/.bin/wrangler");
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1" };

/** A loopback port nothing listens on now. */
export async function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/** Applies migrations/ to the local D1 database in `state`. */
export function applyMigrations(state) {
  execFileSync(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 60_000,
  });
}

/** Runs SQL on the local D1 database in `state`; returns the rows. */
export function queryD1(state, sql) {
  const out = execFileSync(wrangler, ["d1", "execute", "DB", "--local", "--persist-to", state, "--json", "--command", sql], {
    cwd: root,
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 60_000,
  });
  return JSON.parse(out)[0].results;
}

/**
 * Starts the Worker. `migrate: false` leaves D1 empty; `vars` adds settings (`PORTCULLIS_*`).
 * Returns `{ baseUrl, bootstrapToken, state, logs(), stop() }`.
 */
export async function startWorker({ migrate = true, readyTimeoutMs = 60_000, vars: extra = {} } = {}) {
  const state = mkdtempSync(join(tmpdir(), "portcullis-worker-"));
  const vars = join(state, "test.vars");
  const lines = Object.entries(extra).map(([k, v]) => `${k}=${v}\n`).join("");
  writeFileSync(vars, execFileSync(process.execPath, [join(root, "worker/dev-vars.mjs")], { encoding: "utf8" }) + lines, { mode: 0o600 });
  const bootstrapToken = /^PORTCULLIS_BOOTSTRAP_TOKEN=(.*)$/m.exec(readFileSync(vars, "utf8"))[1];
  if (migrate) applyMigrations(state);

  const [port, inspector] = [await freePort(), await freePort()];
  const args = ["dev", "worker/main-test.mjs", "--local", "--ip", "127.0.0.1", "--port", String(port),
    "--inspector-port", String(inspector), "--persist-to", state, "--env-file", vars,
    "--show-interactive-dev-session=false", "--log-level", "log", "--test-scheduled"];
  const child = spawn(wrangler, args, { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise((ok) => child.once("exit", ok));

  const stop = async () => {
    if (child.exitCode === null) {
      try {
        process.kill(-child.pid, "SIGTERM"); // wrangler and its workerd processes
      } catch {}
      const timer = setTimeout(() => { try { process.kill(-child.pid, "SIGKILL"); } catch {} }, 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(state, { recursive: true, force: true });
  };

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`wrangler dev exited with ${child.exitCode}:\n${output}`);
    }
    try {
      const r = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(5_000) });
      await r.arrayBuffer();
      break; // any answer from the Worker (503 too, without migrations) means it is up
    } catch {}
    if (Date.now() > deadline || attempt > 600) {
      await stop();
      throw new Error(`the Worker did not answer within ${readyTimeoutMs} ms:\n${output}`);
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return { baseUrl, bootstrapToken, state, logs: () => output, stop };
}
