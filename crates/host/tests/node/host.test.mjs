// The shared HTTP suite of SPEC 8 (tests/http/suite.mjs) against the real `portcullis serve`:
// the component under the wasmtime host. On SQLite in a fresh data directory by default; on
// PostgreSQL + Redis when TEST_POSTGRES_URL and TEST_REDIS_URL are set
// (scripts/host-test.sh starts them). Needs the binary and the component built (host-test.sh).
import { after } from "node:test";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";

import { httpSuite } from "../../../../tests/http/suite.mjs";

const root = resolve(import.meta.dirname, "../../../..");
const target = process.env.CARGO_TARGET_DIR ?? join(root, "target");
const data = mkdtempSync(join(tmpdir(), "portcullis-host-suite-"));
const b64url = (n) => randomBytes(n).toString("base64url");
const bootstrapToken = `pc-${b64url(16)}.${b64url(16)}`;

const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PORTCULLIS_")));
Object.assign(env, {
  PORTCULLIS_BOOTSTRAP_TOKEN: bootstrapToken,
  PORTCULLIS_KNOWN_SCOPES: "read:all,exec:notebook,read:image,write:files",
  PORTCULLIS_JWT_SECRET: b64url(24),
  PORTCULLIS_HOST_CACHE_DIR: join(target, "tmp/portcullis-host-tests-cache"),
});
const backend = process.env.TEST_POSTGRES_URL && process.env.TEST_REDIS_URL ? "postgres+redis" : "sqlite";
if (backend !== "sqlite") {
  env.PORTCULLIS_HOST_SQL = process.env.TEST_POSTGRES_URL;
  env.PORTCULLIS_HOST_KV = process.env.TEST_REDIS_URL;
}

const server = spawn(join(target, "debug/portcullis"), ["serve", "--listen", "127.0.0.1:0", "--data", join(data, "data"), "--component", join(target, "wasm32-wasip2/release/portcullis_component.wasm")], { env, stdio: ["ignore", "pipe", "inherit"] });
after(() => {
  server.kill();
  rmSync(data, { recursive: true, force: true });
});

const baseUrl = await new Promise((ok, fail) => {
  const timer = setTimeout(() => fail(new Error("portcullis serve did not start within 120 s")), 120_000);
  server.on("exit", (code) => fail(new Error(`portcullis serve exited with ${code}`)));
  createInterface({ input: server.stdout }).on("line", (line) => {
    const m = /^portcullis: listening on (http:\/\/\S+)$/.exec(line);
    if (m) {
      clearTimeout(timer);
      ok(m[1]);
    }
  });
});
console.log(`# portcullis serve on ${backend} at ${baseUrl}`);

httpSuite({ baseUrl, bootstrapToken, jwt: true });
