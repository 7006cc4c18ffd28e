// `/auth` on `portcullis serve` (embedded default: SQLite + embedded KV) vs a bare hyper server
// answering 200, load from wrk in a separate process. Loopback only; every server is stopped at
// the end. Each run is bounded: wrk -d SECONDS at 1, 16 and 64 connections.
// Usage: node bench/http.mjs <target-dir> [seconds]   (prints one JSON line per case)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { start, startServe, stop } from './servers.mjs';
import { wrk } from './wrk.mjs';

const target = resolve(process.argv[2] ?? 'target/bench');
const SECONDS = Number(process.argv[3] ?? process.env.PORTCULLIS_BENCH_HTTP_SECONDS ?? 10);
const CONNECTIONS = (process.env.PORTCULLIS_BENCH_CONNECTIONS ?? '1,16,64').split(',').map(Number);

async function main() {
  const data = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
  try {
    const bare = await start(join(target, 'release/bare-hyper'), ['127.0.0.1:0'], {}, join(data, 'bare-hyper.log'));
    const baseline = {};
    for (const c of CONNECTIONS) baseline[c] = await wrk(`${bare.url}/auth?scope=read:all`, c, SECONDS);
    stop(bare.child);

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
    for (const c of CONNECTIONS) {
      const ours = await wrk(`${serve.url}/auth?scope=read:all`, c, SECONDS, [`Authorization: Bearer ${token}`]);
      const base = baseline[c];
      console.log(JSON.stringify({
        bench: 'http-serve', connections: c, seconds: SECONDS,
        ours_rps: ours.rps, ours_p50_ms: ours.p50_ms, ours_p99_ms: ours.p99_ms, ours_non2xx: ours.errors,
        hyper_rps: base.rps, hyper_p50_ms: base.p50_ms, hyper_p99_ms: base.p99_ms,
        ratio: +(ours.rps / base.rps).toFixed(3),
      }));
    }
    stop(serve.child);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}

await main();
