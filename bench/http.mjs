// `/auth` on `portcullis serve` (embedded default: SQLite + embedded KV) vs a bare hyper server
// answering 200, load from wrk in a separate process. Loopback only; every server is stopped at
// the end. Each run is bounded: wrk at 1, 16 and 64 connections, SECONDS per server and
// connection count, split over 3 interleaved rounds.
// Usage: node bench/http.mjs <target-dir> [seconds]   (prints one JSON line per case)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { start, startServe, stop } from './servers.mjs';
import { wrk } from './wrk.mjs';

const target = resolve(process.argv[2] ?? 'target/bench');
const SECONDS = Number(process.argv[3] ?? process.env.PORTCULLIS_BENCH_HTTP_SECONDS ?? 10);
const CONNECTIONS = (process.env.PORTCULLIS_BENCH_CONNECTIONS ?? '1,16,64').split(',').map(Number);

const ROUNDS = 3;

async function main() {
  const data = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
  try {
    const bare = await start(join(target, 'release/bare-hyper'), ['127.0.0.1:0'], {}, join(data, 'bare-hyper.log'));
    const serve = await startServe(target, join(data, 'data'), join(data, 'cache'), join(data, 'serve.log'));
    const bootstrap = readFileSync(join(data, 'data/bootstrap-token'), 'utf8').trim();
    const made = await fetch(`${serve.url}/auth/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bootstrap}`, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'benchuser', token_type: 'user', token_name: 'bench', scopes: ['read:all'] }),
    });
    if (made.status !== 201) throw new Error(`creating the user token: ${made.status} ${await made.text()}`);
    const { token } = await made.json();
    const check = await fetch(`${serve.url}/auth?scope=read:all`, { headers: { authorization: `Bearer ${token}` } });
    if (check.status !== 200) throw new Error(`/auth answered ${check.status}`);
    // Both servers up at once, measured back to back in interleaved rounds (so that a change in
    // the machine's load falls on both alike); each figure is the median of the rounds.
    const seconds = Math.max(2, Math.round(SECONDS / ROUNDS));
    for (const c of CONNECTIONS) {
      const runs = { hyper: [], ours: [] };
      for (let round = 0; round < ROUNDS; round++) {
        runs.hyper.push(await wrk(`${bare.url}/auth?scope=read:all`, c, seconds));
        runs.ours.push(await wrk(`${serve.url}/auth?scope=read:all`, c, seconds, [`Authorization: Bearer ${token}`]));
      }
      const median = (list, key) => list.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(ROUNDS / 2)];
      const [ours, base] = [runs.ours, runs.hyper].map((list) => ({
        rps: median(list, 'rps'), p50_ms: median(list, 'p50_ms'), p99_ms: median(list, 'p99_ms'),
        errors: list.reduce((sum, r) => sum + r.errors, 0),
      }));
      console.log(JSON.stringify({
        bench: 'http-serve', connections: c, seconds: seconds * ROUNDS, rounds: ROUNDS,
        ours_rps: ours.rps, ours_p50_ms: ours.p50_ms, ours_p99_ms: ours.p99_ms, ours_non2xx: ours.errors,
        hyper_rps: base.rps, hyper_p50_ms: base.p50_ms, hyper_p99_ms: base.p99_ms,
        ratio: +(ours.rps / base.rps).toFixed(3),
      }));
    }
    stop(bare.child);
    stop(serve.child);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}

await main();
