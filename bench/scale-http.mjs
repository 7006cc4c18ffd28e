// `/auth` on `portcullis serve` over stores of different sizes: for each data directory made by
// `scale fill DIR N` (SQLite + embedded KV holding N tokens, and 1,000 of them in DIR.tokens,
// spread evenly over the store), the server is started on it and wrk sends
// `GET /auth?scope=read:all` with a token drawn at random from those 1,000 for every request
// (bench/random-token.lua). The same 1,000-token working set whatever the store holds, so only
// the store's size differs. The servers run with `--no-reuse`: every request reaches the store,
// whose cost is what this measures (answer reuse would answer most of them from memory). Every run is bounded (wrk -d SECONDS, after a 2 s warm-up), every
// answer must be 200, and each figure is the median of 3 rounds.
// Usage: node bench/scale-http.mjs <target-dir> <data-dir>... (prints one JSON line per case)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServe, stop } from './servers.mjs';
import { median, wrk } from './wrk.mjs';

const target = resolve(process.argv[2]);
const dirs = process.argv.slice(3).map((d) => resolve(d));
const SECONDS = Number(process.env.PORTCULLIS_BENCH_HTTP_SECONDS ?? 10);
const CONNECTIONS = [1, 16];
const script = join(dirname(fileURLToPath(import.meta.url)), 'random-token.lua');

const ROUNDS = 3;

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'portcullis-scale-http-'));
  try {
    // Every store's server at once, measured in interleaved rounds (so that a change in the
    // machine's load falls on every store alike); each figure is the median of the rounds.
    const cases = [];
    for (const [i, dir] of dirs.entries()) {
      const tokens = Number(readFileSync(`${dir}.count`, 'utf8'));
      const env = { TOKENS: `${dir}.tokens` };
      const serve = await startServe(target, dir, join(work, `cache-${i}`), join(work, `serve-${i}.log`), { args: ['--no-reuse'] });
      const first = readFileSync(env.TOKENS, 'utf8').split('\n')[0];
      const check = await fetch(`${serve.url}/auth?scope=read:all`, { headers: { authorization: `Bearer ${first}` } });
      if (check.status !== 200) throw new Error(`/auth answered ${check.status} for a stored token`);
      cases.push({ tokens, env, serve, runs: {} });
    }
    for (const c of CONNECTIONS) {
      for (const { serve, env } of cases) await wrk(`${serve.url}/auth?scope=read:all`, c, 2, [], { script, env });
      for (let round = 0; round < ROUNDS; round++) {
        for (const { tokens, env, serve, runs } of cases) {
          const r = await wrk(`${serve.url}/auth?scope=read:all`, c, SECONDS, [], { script, env });
          if (r.errors) throw new Error(`${r.errors} answers were not 200 (${tokens} tokens, ${c} connections)`);
          (runs[c] ??= []).push(r);
        }
      }
    }
    for (const { tokens, runs } of cases) {
      for (const c of CONNECTIONS) {
        console.log(JSON.stringify({
          bench: 'scale-http', tokens, connections: c, seconds: SECONDS, rounds: ROUNDS, working_set: 1000,
          rps: median(runs[c], 'rps'), p50_ms: median(runs[c], 'p50_ms'), p99_ms: median(runs[c], 'p99_ms'),
        }));
      }
    }
    for (const { serve } of cases) stop(serve.child);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
