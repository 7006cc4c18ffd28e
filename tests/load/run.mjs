// The load and crash run (docs/RELIABILITY.md, "Load and crash"): a seeded mix of token and
// session requests against a real `portcullis serve`, every answer checked against a model of
// what earlier answers acknowledged; `kill -9` of the server at random points, a restart on the
// same data, then every acknowledged write checked and the audit required clean.
//
//   node tests/load/run.mjs --bin target/debug/portcullis --component X.wasm \
//     [--requests 20000] [--concurrency 64] [--kills 1] [--seed 1] [--users 16] [--max-seconds 600]
//
// On PostgreSQL + Redis when TEST_POSTGRES_URL and TEST_REDIS_URL are set. Exit status 0 only
// with no 5xx, no wrong answer, no unanswered request outside a kill, and a clean audit.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

import { Client, percentile } from "./http.mjs";
import { Locks, Model, Rng } from "./model.mjs";
import { Lost, OPS } from "./ops.mjs";
import { SESSION_OPS } from "./session_ops.mjs";
import { audit, settle, sweep } from "./recover.mjs";
import { Server } from "./server.mjs";

const { values: opt } = parseArgs({
  options: {
    bin: { type: "string" },
    component: { type: "string" },
    requests: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "64" },
    kills: { type: "string", default: "1" },
    seed: { type: "string", default: "1" },
    users: { type: "string", default: "16" },
    "max-seconds": { type: "string", default: "600" },
    "cache-dir": { type: "string" },
    report: { type: "string" },
  },
});
const N = Number(opt.requests);
const C = Number(opt.concurrency);
const KILLS = Number(opt.kills);
const SEED = Number(opt.seed);
const DEADLINE = Date.now() + Number(opt["max-seconds"]) * 1000;
const root = resolve(import.meta.dirname, "../..");

const backend = process.env.TEST_POSTGRES_URL && process.env.TEST_REDIS_URL ? { sql: process.env.TEST_POSTGRES_URL, kv: process.env.TEST_REDIS_URL } : null;
const work = mkdtempSync(join(tmpdir(), "portcullis-load-"));
const server = new Server({
  bin: resolve(opt.bin),
  component: resolve(opt.component),
  data: join(work, "data"),
  backend,
  cacheDir: resolve(opt["cache-dir"] ?? join(root, "target/tmp/portcullis-load-cache")),
  logDir: work,
});
const rng = new Rng(SEED);
const model = new Model(Array.from({ length: Number(opt.users) }, (_, i) => `load${String(i).padStart(2, "0")}`));
const locks = new Locks();
const load = new Client(C);
const checker = new Client(C);
const mix = Object.entries({ ...OPS, ...SESSION_OPS });
const totalWeight = mix.reduce((s, [, [w]]) => s + w, 0);
let killing = false;

/** Requests of the run; no answer or a 5xx throws `Lost` (expected only during a kill). */
function context(client) {
  return {
    bootstrap: null,
    async req(kind, method, path, options) {
      const res = await client.request(method, path, options);
      const k = model.byKind.get(kind) ?? { ops: 0, requests: 0 };
      k.requests += 1;
      model.byKind.set(kind, k);
      if (res.error) {
        if (!killing) {
          model.unanswered += 1;
          model.fail(kind, `no answer (${res.error})`);
        }
        throw new Lost(res.error);
      }
      if (res.status >= 500) {
        model.serverErrors += 1;
        model.fail(kind, `${res.status} ${res.json?.detail?.[0]?.type ?? ""}`);
        throw new Lost(String(res.status));
      }
      return res;
    },
  };
}
const loadCtx = context(load);
const checkCtx = context(checker);

const parked = [];

function pick() {
  for (let i = 0; i < parked.length; i++) {
    const op = parked[i];
    if (!op.still()) parked.splice(i--, 1);
    else if (locks.free(op.reads, op.writes, true)) return parked.splice(i, 1)[0];
  }
  for (let attempt = 0; attempt < 40; attempt++) {
    let x = rng.next() * totalWeight;
    const [kind, [, make]] = mix.find(([, [w]]) => (x -= w) < 0) ?? mix.at(-1);
    const op = make(model, rng);
    if (!op) continue;
    if (locks.free(op.reads, op.writes)) return { kind, ...op };
    if (op.still && parked.length < 8 && op.writes.every((r) => !locks.wanted.has(r))) {
      locks.want(op.writes);
      parked.push({ kind, ...op });
    }
  }
  return null;
}

function launch(op, inflight) {
  locks.take(op.reads, op.writes);
  const k = model.byKind.get(op.kind) ?? { ops: 0, requests: 0 };
  k.ops += 1;
  model.byKind.set(op.kind, k);
  const p = (async () => {
    try {
      await op.run(loadCtx);
    } catch (e) {
      if (!(e instanceof Lost)) throw e;
      op.lost();
    } finally {
      locks.release(op.reads, op.writes);
    }
  })();
  inflight.add(p);
  p.finally(() => inflight.delete(p));
}

const crashes = [];
let recoveryMs = 0;

async function restart(url) {
  load.target(url);
  checker.target(url);
}

/** `kill -9` with the load in flight, restart, settle, check everything, audit. */
async function crash(inflight) {
  const started = Date.now();
  killing = true;
  const inFlight = inflight.size;
  for (const op of parked.splice(0)) locks.wanted.delete(...op.writes);
  await server.kill();
  await Promise.allSettled([...inflight]);
  checkCtx.killedAt = Date.now();
  const allowance = model.users.reduce((s, u) => s + u.pending.names.size + u.pending.delegates, 0);
  const down = Date.now();
  await restart(await server.start());
  const restartMs = Date.now() - down;
  killing = false;
  const settled = await settle(checkCtx, model);
  const checked = await sweep(checkCtx, model, rng, C);
  const audited = await audit(checkCtx, model, allowance);
  crashes.push({ atRequest: load.requests, inFlight, restartMs, settled, checked, audit: audited });
  recoveryMs += Date.now() - started;
  console.log(`# kill -9 at request ${load.requests} with ${inFlight} operations in flight; restarted in ${restartMs} ms; checked ${JSON.stringify(checked)}; audit ${audited.found} findings`);
}

async function loadPhase() {
  const killAt = Array.from({ length: KILLS }, () => Math.floor(N * (0.15 + 0.7 * rng.next()))).sort((a, b) => a - b);
  const inflight = new Set();
  let progress = 0;
  while (load.requests < N && Date.now() < DEADLINE) {
    if (killAt.length && load.requests >= killAt[0]) {
      killAt.shift();
      await crash(inflight);
      continue;
    }
    if (inflight.size >= C) {
      await Promise.race(inflight);
      continue;
    }
    const op = pick();
    if (!op) {
      if (!inflight.size) throw new Error("no operation can run: the mix is stuck");
      await Promise.race(inflight);
      continue;
    }
    launch(op, inflight);
    if (load.requests >= progress + N / 10) {
      progress = load.requests;
      console.log(`# ${load.requests} requests, ${model.wrong} wrong, ${model.serverErrors} 5xx`);
    }
  }
  await Promise.allSettled([...inflight]);
  if (load.requests < N) model.fail("run", `stopped at ${load.requests} of ${N} requests: --max-seconds reached`);
}

let exitCode = 1;
try {
  checkCtx.bootstrap = loadCtx.bootstrap = server.command("bootstrap-token").trim();
  console.log(`# portcullis serve on ${backend ? "postgres+redis" : "sqlite"}; ${N} requests, ${C} in flight, ${KILLS} kills, seed ${SEED}`);
  await restart(await server.start());
  const started = Date.now();
  await loadPhase();
  const loadMs = Date.now() - started - recoveryMs;
  const settled = await settle(checkCtx, model);
  const final = await sweep(checkCtx, model, rng, C);
  const apiAudit = await audit(checkCtx, model, 0);
  await server.stop();
  const cli = server.command("audit");
  const cliClean = /^portcullis: 0 issues$/m.test(cli);
  if (!cliClean) model.fail("audit", `portcullis audit: ${cli.trim().split("\n").at(-1)}`);
  const report = {
    backend: backend ? "postgres+redis" : "sqlite",
    seed: SEED,
    requests: load.requests,
    concurrency: C,
    byKind: Object.fromEntries([...model.byKind].sort()),
    loadSeconds: +(loadMs / 1000).toFixed(1),
    requestsPerSecond: Math.round(load.requests / (loadMs / 1000)),
    p50ms: +percentile(load.latencies, 50).toFixed(1),
    p99ms: +percentile(load.latencies, 99).toFixed(1),
    kills: crashes,
    checkRequests: checker.requests,
    tokens: model.tokens.length,
    sessions: model.families.length,
    sessionsEvicted: model.evicted,
    final: { settled, checked: final, audit: apiAudit, cliAudit: cliClean ? "clean" : "not clean" },
    serverErrors: model.serverErrors,
    serverLog5xx: server.serverErrors,
    serverLog5xxKinds: Object.fromEntries(server.errorNotes),
    unanswered: model.unanswered,
    wrong: model.wrong,
    wrongSamples: model.wrongSamples,
  };
  console.log(JSON.stringify(report, null, 2));
  if (opt.report) writeFileSync(opt.report, JSON.stringify(report, null, 2));
  exitCode = model.wrong === 0 && model.serverErrors === 0 && server.serverErrors === 0 && cliClean ? 0 : 1;
  console.log(exitCode === 0 ? "# load and crash: ok" : "# load and crash: FAILED");
} catch (e) {
  console.error(`# load run failed: ${e.stack ?? e}`);
} finally {
  load.close();
  checker.close();
  await server.kill();
  if (exitCode === 0) rmSync(work, { recursive: true, force: true });
  else console.error(`# server logs kept in ${work}`);
}
process.exit(exitCode);
