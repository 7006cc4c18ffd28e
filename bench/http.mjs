// `/auth` on `portcullis serve` (embedded default: SQLite + embedded KV; and on PostgreSQL + Redis
// when TEST_POSTGRES_URL and TEST_REDIS_URL name running servers) vs a bare hyper server
// answering 200, load from wrk in a separate process. Loopback only; every server is stopped at
// the end. Each run is bounded: wrk at 1, 16 and 64 connections, SECONDS per server and
// connection count, split over 3 interleaved rounds. Besides requests/s and latency, each server's
// CPU time (user + system, from /proc/PID/stat) per request: where the cores went. `portcullis serve`
// runs twice on the embedded default: as shipped ("ours": a repeated `/auth` is answered again
// from memory while KV is unchanged) and with `--no-reuse` (every request calls the component).
// Usage: node bench/http.mjs <target-dir> [seconds]   (prints one JSON line per case)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { start, startServe, stop } from './servers.mjs';
import { median, wrk } from './wrk.mjs';

const target = resolve(process.argv[2] ?? 'target/bench');
const SECONDS = Number(process.argv[3] ?? process.env.PORTCULLIS_BENCH_HTTP_SECONDS ?? 10);
const CONNECTIONS = (process.env.PORTCULLIS_BENCH_CONNECTIONS ?? '1,16,64').split(',').map(Number);

const ROUNDS = 3;
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
async function measured(pid, url, connections, seconds, headers) {
  const before = cpuTicks(pid);
  const result = await wrk(url, connections, seconds, headers);
  const after = cpuTicks(pid);
  result.cpu_us = before == null || after == null || !result.requests ? null
    : ((after - before) * 1e6) / TICKS_PER_SECOND / result.requests;
  return result;
}

/// A user token on a fresh server, checked to pass `/auth`.
async function userToken(serve, dataDir) {
  const bootstrap = readFileSync(join(dataDir, 'bootstrap-token'), 'utf8').trim();
  const made = await fetch(`${serve.url}/auth/api/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bootstrap}`, 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'benchuser', token_type: 'user', token_name: 'bench', scopes: ['read:all'] }),
  });
  if (made.status !== 201) throw new Error(`creating the user token: ${made.status} ${await made.text()}`);
  const { token } = await made.json();
  const check = await fetch(`${serve.url}/auth?scope=read:all`, { headers: { authorization: `Bearer ${token}` } });
  if (check.status !== 200) throw new Error(`/auth answered ${check.status}`);
  return token;
}

async function main() {
  const data = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
  try {
    const bare = await start(join(target, 'release/bare-hyper'), ['127.0.0.1:0'], {}, join(data, 'bare-hyper.log'));
    const servers = { hyper: { url: bare.url, headers: [], pid: bare.child.pid } };
    const serve = await startServe(target, join(data, 'data'), join(data, 'cache'), join(data, 'serve.log'));
    servers.ours = { url: serve.url, headers: [`Authorization: Bearer ${await userToken(serve, join(data, 'data'))}`], pid: serve.child.pid };
    const called = await startServe(target, join(data, 'data-called'), join(data, 'cache'), join(data, 'serve-called.log'), { args: ['--no-reuse'] });
    servers.called = { url: called.url, headers: [`Authorization: Bearer ${await userToken(called, join(data, 'data-called'))}`], pid: called.child.pid };
    // PostgreSQL + Redis when the caller started them (scripts/bench.sh does, with scripts/services.sh).
    let pg;
    if (process.env.TEST_POSTGRES_URL && process.env.TEST_REDIS_URL) {
      pg = await startServe(target, join(data, 'data-pg'), join(data, 'cache'), join(data, 'serve-pg.log'),
        { sql: process.env.TEST_POSTGRES_URL, kv: process.env.TEST_REDIS_URL });
      servers.pg = { url: pg.url, headers: [`Authorization: Bearer ${await userToken(pg, join(data, 'data-pg'))}`], pid: pg.child.pid };
    }
    // Every server up at once, measured back to back in interleaved rounds (so that a change in
    // the machine's load falls on all alike); each figure is the median of the rounds.
    const seconds = Math.max(2, Math.round(SECONDS / ROUNDS));
    for (const c of CONNECTIONS) {
      const runs = Object.fromEntries(Object.keys(servers).map((name) => [name, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, { url, headers, pid }] of Object.entries(servers)) {
          runs[name].push(await measured(pid, `${url}/auth?scope=read:all`, c, seconds, headers));
        }
      }
      const line = { bench: 'http-serve', connections: c, seconds: seconds * ROUNDS, rounds: ROUNDS };
      for (const [name, list] of Object.entries(runs)) {
        Object.assign(line, {
          [`${name}_rps`]: median(list, 'rps'), [`${name}_p50_ms`]: median(list, 'p50_ms'), [`${name}_p99_ms`]: median(list, 'p99_ms'),
          [`${name}_cpu_us`]: list.every((r) => r.cpu_us != null) ? +median(list, 'cpu_us').toFixed(1) : null,
        });
        if (name !== 'hyper') line[`${name}_non2xx`] = list.reduce((sum, r) => sum + r.errors, 0);
      }
      line.ratio = +(line.ours_rps / line.hyper_rps).toFixed(3);
      line.called_ratio = +(line.called_rps / line.hyper_rps).toFixed(3);
      if (pg) line.pg_ratio = +(line.pg_rps / line.hyper_rps).toFixed(3);
      console.log(JSON.stringify(line));
    }
    for (const child of [bare.child, serve.child, called.child, pg?.child].filter(Boolean)) stop(child);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}

await main();
