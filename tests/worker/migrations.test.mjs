import { readdirSync } from "node:fs";
// D1 migrations from an empty database: the Worker refuses to serve on an old schema (503
// schema_outdated), and serves once `wrangler d1 migrations apply` has run the generated files,
// which record their versions in portcullis_migrations exactly as portcullis::migrate does.
import { after, test } from "node:test";
import assert from "node:assert/strict";

import { client } from "../http/suite.mjs";
import { applyMigrations, queryD1, startWorker } from "./harness.mjs";

const worker = await startWorker({ migrate: false });
after(() => worker.stop());
const call = client(worker.baseUrl);

test("an empty D1 database gets 503 schema_outdated", async () => {
  const r = await call("GET", "/health");
  assert.equal(r.status, 503, r.text);
  assert.equal(r.data.detail[0].type, "schema_outdated");
  assert.match(r.data.detail[0].msg, /version 0 is older than \d+: apply the D1 migrations/);
});

test("after the migrations are applied the same Worker serves", async () => {
  applyMigrations(worker.state);
  const rows = queryD1(worker.state, "SELECT version, name FROM portcullis_migrations ORDER BY version");
  // Every migration the project ships, in order (migrations/000N_<name>.sql).
  const shipped = readdirSync(new URL("../../migrations/", import.meta.url))
    .filter((f) => /^\d{4}_\w+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 4)), name: f.slice(5, -4) }));
  assert.ok(shipped.length >= 3, JSON.stringify(shipped));
  assert.deepEqual(rows, shipped);
  let status;
  for (let i = 0; i < 50 && status !== 200; i++) {
    status = await call("GET", "/health").then((r) => r.status, (e) => e.message);
    if (status !== 200) await new Promise((ok) => setTimeout(ok, 100));
  }
  assert.equal(status, 200);
  const made = await call("POST", "/auth/api/v1/tokens", {
    token: worker.bootstrapToken,
    json: { username: "mig", token_type: "user", token_name: "m", scopes: [] },
  });
  assert.equal(made.status, 201, made.text);
});
