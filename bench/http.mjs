// `/auth` on `portcullis serve` (embedded default: SQLite + embedded KV; and on PostgreSQL + Redis
// when TEST_POSTGRES_URL and TEST_REDIS_URL name running servers) vs a bare hyper server
// answering 200, load from wrk in a separate process. Loopback only; every server is stopped at
// the end. Each run is bounded: wrk at 1, 16 and 64 connections, SECONDS per server and
// connection count, split over 3 interleaved rounds. Besides requests/s and latency, each server's
// CPU time (user + system, from /proc/PID/stat) per request: where the cores went. `portcullis serve`
// runs twice on the embedded default: as shipped ("ours": a repeated `/auth` is answered again
// from memory while the KV keys it read are unchanged) and with `--no-reuse` (every request calls
// the component). Both are measured twice: with one token, as above, and as many users: each
// request with one of TOKEN_POOL tokens at random (bench/random-token.lua) while this process
// creates user tokens through the API at WRITES_PER_SECOND (logins, new tokens: KV and SQL
// writes, to keys none of the measured answers read).
// Usage: node bench/http.mjs <target-dir> [seconds]   (prints one JSON line per case)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { start, startServe, stop } from './servers.mjs';
import { median, wrk } from './wrk.mjs';

const target = resolve(process.argv[2] ?? 'target/bench');
const SECONDS = Number(process.argv[3] ?? process.env.PORTCULLIS_BENCH_HTTP_SECONDS ?? 10);
const CONNECTIONS = (process.env.PORTCULLIS_BENCH_CONNECTIONS ?? '1,16,64').split(',').map(Number);

const ROUNDS = 3;
const WRITES_PER_SECOND = Number(process.env.PORTCULLIS_BENCH_WRITES_PER_SECOND ?? 100);
const TOKEN_POOL = 1000;
const RANDOM_TOKEN = join(dirname(fileURLToPath(import.meta.url)), 'random-token.lua');
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/// User + system CPU time of a process so far, in clock ticks (fields 14 and 15 of /proc/PID/stat,
/// counted after the parenthesized command name); null where there is no /proc.
function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/// One wrk run against the server of process `pid`, with the server's CPU µs per request.
async function measured(pid, url, connections, seconds, headers, script) {
  const before = cpuTicks(pid);
  const result = await wrk(url, connections, seconds, headers, script);
  const after = cpuTicks(pid);
  result.cpu_us = before == null || after == null || !result.requests ? null
    : ((after - before) * 1e6) / TICKS_PER_SECOND / result.requests;
  return result;
}

/// Creates a user token named `name` through the API of the server at `url`.
async function createToken(url, bootstrap, name) {
  const made = await fetch(`${url}/auth/api/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bootstrap}`, 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'benchuser', token_type: 'user', token_name: name, scopes: ['read:all'] }),
    signal: AbortSignal.timeout(10_000),
  });
  if (made.status !== 201) throw new Error(`creating a user token: ${made.status} ${await made.text()}`);
  return (await made.json()).token;
}

/// A server of the benchmark: its URL, wrk's headers (a user token on a fresh server, checked
/// to pass `/auth`), its process, and a way to write to it (`bootstrap`).
async function measuredServe(serve, dataDir) {
  const bootstrap = readFileSync(join(dataDir, 'bootstrap-token'), 'utf8').trim();
  const token = await createToken(serve.url, bootstrap, 'bench');
  const check = await fetch(`${serve.url}/auth?scope=read:all`, { headers: { authorization: `Bearer ${token}` } });
  if (check.status !== 200) throw new Error(`/auth answered ${check.status}`);
  return { url: serve.url, headers: [`Authorization: Bearer ${token}`], pid: serve.child.pid, bootstrap };
}

/// TOKEN_POOL more user tokens on `server`, one a line in `file`: the users of the writes case.
async function tokenPool(server, file) {
  const tokens = [];
  for (let i = 0; i < TOKEN_POOL; i += 10) {
    tokens.push(...await Promise.all(Array.from({ length: 10 }, (_, j) => createToken(server.url, server.bootstrap, `pool-${i + j}`))));
  }
  writeFileSync(file, `${tokens.join('\n')}\n`);
  return { script: RANDOM_TOKEN, env: { TOKENS: file } };
}

let written = 0;

/// Creates tokens on `server` at about `perSecond`, one request at a time, until `stop()`, which
/// resolves to the rate reached.
function writer(server, perSecond) {
  let running = true;
  const started = performance.now();
  const done = (async () => {
    let made = 0, next = started;
    while (running) {
      await createToken(server.url, server.bootstrap, `bench-write-${written++}`);
      made++;
      next += 1000 / perSecond;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
    }
    return made / ((performance.now() - started) / 1000);
  })();
  return { stop: () => { running = false; return done; } };
}

async function main() {
  const data = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
  try {
    const bare = await start(join(target, 'release/bare-hyper'), ['127.0.0.1:0'], {}, join(data, 'bare-hyper.log'));
    const servers = { hyper: { url: bare.url, headers: [], pid: bare.child.pid } };
    const serve = await startServe(target, join(data, 'data'), join(data, 'cache'), join(data, 'serve.log'));
    servers.ours = await measuredServe(serve, join(data, 'data'));
    const called = await startServe(target, join(data, 'data-called'), join(data, 'cache'), join(data, 'serve-called.log'), { args: ['--no-reuse'] });
    servers.called = await measuredServe(called, join(data, 'data-called'));
    // The same two servers as many users, under a stream of writes; and hyper under the same wrk
    // script (a token drawn at random for each request costs wrk some CPU of the cores it shares).
    for (const name of ['ours', 'called']) {
      const pool = await tokenPool(servers[name], join(data, `${name}.tokens`));
      servers[`${name}_writes`] = { ...servers[name], headers: [], script: pool, writes: WRITES_PER_SECOND };
    }
    servers.hyper_users = { ...servers.hyper, script: servers.ours_writes.script };
    // PostgreSQL + Redis when the caller started them (scripts/bench.sh does, with scripts/services.sh).
    let pg;
    if (process.env.TEST_POSTGRES_URL && process.env.TEST_REDIS_URL) {
      pg = await startServe(target, join(data, 'data-pg'), join(data, 'cache'), join(data, 'serve-pg.log'),
        { sql: process.env.TEST_POSTGRES_URL, kv: process.env.TEST_REDIS_URL });
      servers.pg = await measuredServe(pg, join(data, 'data-pg'));
    }
    // Every server up at once, measured back to back in interleaved rounds (so that a change in
    // the machine's load falls on all alike); each figure is the median of the rounds.
    const seconds = Math.max(2, Math.round(SECONDS / ROUNDS));
    for (const c of CONNECTIONS) {
      const runs = Object.fromEntries(Object.keys(servers).map((name) => [name, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, server] of Object.entries(servers)) {
          const background = server.writes && writer(server, server.writes);
          const run = await measured(server.pid, `${server.url}/auth?scope=read:all`, c, seconds, server.headers, server.script);
          if (background) run.writes = await background.stop();
          runs[name].push(run);
        }
      }
      const line = { bench: 'http-serve', connections: c, seconds: seconds * ROUNDS, rounds: ROUNDS };
      for (const [name, list] of Object.entries(runs)) {
        Object.assign(line, {
          [`${name}_rps`]: median(list, 'rps'), [`${name}_p50_ms`]: median(list, 'p50_ms'), [`${name}_p99_ms`]: median(list, 'p99_ms'),
          [`${name}_cpu_us`]: list.every((r) => r.cpu_us != null) ? +median(list, 'cpu_us').toFixed(1) : null,
        });
        if (!name.startsWith('hyper')) line[`${name}_non2xx`] = list.reduce((sum, r) => sum + r.errors, 0);
        if (servers[name].writes) line[`${name}_per_s`] = Math.round(median(list, 'writes'));
      }
      line.ratio = +(line.ours_rps / line.hyper_rps).toFixed(3);
      line.called_ratio = +(line.called_rps / line.hyper_rps).toFixed(3);
      line.ours_writes_ratio = +(line.ours_writes_rps / line.hyper_users_rps).toFixed(3);
      line.called_writes_ratio = +(line.called_writes_rps / line.hyper_users_rps).toFixed(3);
      if (pg) line.pg_ratio = +(line.pg_rps / line.hyper_rps).toFixed(3);
      console.log(JSON.stringify(line));
    }
    for (const child of [bare.child, serve.child, called.child, pg?.child].filter(Boolean)) stop(child);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}

await main();
