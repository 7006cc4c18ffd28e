// JWT validation inside workerd (Miniflare's, the runtime wrangler dev runs): ours (the bench
// binding, signature in Rust or in WebCrypto) vs jose 6 in the same isolate. Workers only advance
// their clock across I/O, so each measurement is a fixed number of operations inside one request,
// timed from outside (the request overhead, under a millisecond, is left in).
// Usage: node bench/jwt-workerd.mjs <bench-binding-dir built with --target web> [seconds]
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';

const dir = resolve(process.argv[2] ?? 'target/bench/web-bench-pkg');
const SECONDS = Number(process.argv[3] ?? process.env.PORTCULLIS_BENCH_SECONDS ?? 2);
const entry = `
import * as jose from 'jose';
import { initSync, BenchVerifier } from '${dir}/portcullis_bench.js';
import wasm from './portcullis_bench_bg.wasm';
import { prepare, runCount, IN_FLIGHT } from '${resolve('bench/jwt-kernel.mjs')}';
initSync({ module: wasm });
const cases = {};
export default {
  async fetch(request) {
    const q = new URL(request.url).searchParams;
    const alg = q.get('alg');
    cases[alg] ??= await prepare(alg, jose, BenchVerifier);
    const fn = cases[alg].fns[q.get('impl')];
    if (!fn) return new Response('null');
    await runCount(fn, Number(q.get('n')), q.get('mode') === 'sequential' ? 1 : IN_FLIGHT);
    return Response.json({ counts: Array.from(cases[alg].counts()) });
  },
};`;
const bundle = await build({
  stdin: { contents: entry, resolveDir: resolve('.'), sourcefile: 'bench-worker.mjs' },
  bundle: true, format: 'esm', write: false, platform: 'neutral', conditions: ['workerd', 'worker', 'browser'],
  mainFields: ['module', 'main'], external: ['./portcullis_bench_bg.wasm'], logLevel: 'error',
});
const mf = new Miniflare({
  modules: [
    { type: 'ESModule', path: 'bench-worker.mjs', contents: bundle.outputFiles[0].text },
    { type: 'CompiledWasm', path: 'portcullis_bench_bg.wasm', contents: readFileSync(`${dir}/portcullis_bench_bg.wasm`) },
  ],
  compatibilityDate: '2025-09-01',
});

async function timed(alg, impl, mode, n) {
  const start = performance.now();
  const response = await mf.dispatchFetch(`http://bench/?alg=${alg}&impl=${impl}&mode=${encodeURIComponent(mode)}&n=${n}`);
  const body = await response.json();
  if (!response.ok) throw new Error(JSON.stringify(body));
  return { seconds: (performance.now() - start) / 1000, body };
}

// Ops per second of each implementation: a warm-up, a probe that sizes the runs to about
// SECONDS / ROUNDS, then ROUNDS interleaved rounds (other load on the machine hits all alike), the median.
const ROUNDS = 3;
async function measure(alg, mode) {
  const impls = ['jose', 'ours', 'cached', 'subtle', 'ceiling'];
  const sizes = {};
  for (const impl of impls) {
    await timed(alg, impl, mode, 200);
    const probe = await timed(alg, impl, mode, 200);
    if (probe.body === null) continue;
    sizes[impl] = Math.max(200, Math.round((200 / probe.seconds) * (SECONDS / ROUNDS)));
  }
  const rates = Object.fromEntries(Object.keys(sizes).map((impl) => [impl, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [impl, n] of Object.entries(sizes)) rates[impl].push(n / (await timed(alg, impl, mode, n)).seconds);
  }
  return Object.fromEntries(Object.entries(rates).map(([impl, xs]) => [impl, xs.sort((a, b) => a - b)[xs.length >> 1]]));
}

try {
  for (const alg of ['HS256', 'ES256', 'EdDSA']) {
    for (const mode of ['sequential', '64 in flight']) {
      const { jose: joseOps, ours: oursOps, cached: cachedOps, subtle: subtleOps, ceiling: ceilingOps } = await measure(alg, mode);
      const { body } = await timed(alg, 'subtle', mode, 1);
      console.log(JSON.stringify({
        bench: 'jwt-workerd', alg, mode, jose_ops: Math.round(joseOps), ours_ops: Math.round(oursOps),
        ratio: +(oursOps / joseOps).toFixed(3),
        cached_ops: Math.round(cachedOps), cached_ratio: +(cachedOps / joseOps).toFixed(3), subtle_ops: subtleOps && Math.round(subtleOps),
        subtle_ratio: subtleOps && +(subtleOps / joseOps).toFixed(3), webcrypto_checks: body?.counts?.[0] ?? null,
        ceiling_ops: Math.round(ceilingOps), jose_ceiling_ratio: +(joseOps / ceilingOps).toFixed(3),
      }));
    }
  }
} finally {
  await mf.dispose();
}
