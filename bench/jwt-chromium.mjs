// JWT validation in Debian's Chromium (playwright-core, the launch flags of www/tests/pages.test.mjs):
// ours (the bench binding, signature in Rust or in WebCrypto) vs jose 6 on the same page, timed in
// the page. Files are served from loopback: the bench kernel, jose's browser build, the binding.
// Usage: node bench/jwt-chromium.mjs <bench-binding-dir built with --target web> [seconds]
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, normalize } from 'node:path';
import { chromium } from 'playwright-core';

const dir = resolve(process.argv[2] ?? 'target/bench/web-bench-pkg');
const SECONDS = Number(process.argv[3] ?? process.env.PORTCULLIS_BENCH_SECONDS ?? 2);
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const roots = { '/bench/': resolve('bench'), '/jose/': resolve('node_modules/jose/dist/webapi'), '/pkg/': dir };
const types = { '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };

const server = createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/') {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>jwt bench</title>');
    return;
  }
  const prefix = Object.keys(roots).find((p) => path.startsWith(p));
  const file = prefix && normalize(join(roots[prefix], path.slice(prefix.length)));
  if (!file || !file.startsWith(roots[prefix])) return void res.writeHead(404).end();
  try {
    const body = readFileSync(file);
    res.writeHead(200, { 'content-type': types[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream' }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const base = `http://127.0.0.1:${server.address().port}`;
const profile = mkdtempSync(join(tmpdir(), 'portcullis-bench-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium', headless: true, args: FLAGS, timeout: 60_000,
});

try {
  const page = await context.newPage();
  await page.goto(`${base}/`);
  const version = await page.evaluate(() => navigator.userAgent);
  await page.evaluate(async () => {
    const jose = await import('/jose/index.js');
    const binding = await import('/pkg/portcullis_bench.js');
    await binding.default({ module_or_path: '/pkg/portcullis_bench_bg.wasm' });
    const kernel = await import('/bench/jwt-kernel.mjs');
    const cases = {};
    window.bench = async (alg, impl, mode, n) => {
      cases[alg] ??= await kernel.prepare(alg, jose, binding.BenchVerifier);
      const fn = cases[alg].fns[impl];
      if (!fn) return null;
      const start = performance.now();
      await kernel.runCount(fn, n, mode === 'sequential' ? 1 : kernel.IN_FLIGHT);
      return { seconds: (performance.now() - start) / 1000, counts: Array.from(cases[alg].counts()) };
    };
  });
  const run = (alg, impl, mode, n) => page.evaluate(([a, i, m, c]) => window.bench(a, i, m, c), [alg, impl, mode, n]);
  // A warm-up, a probe that sizes the runs to about SECONDS / ROUNDS, then ROUNDS interleaved
  // rounds (other load on the machine hits all alike), the median.
  const ROUNDS = 3;
  const measure = async (alg, mode) => {
    const sizes = {};
    for (const impl of ['jose', 'ours', 'cached', 'subtle', 'ceiling']) {
      await run(alg, impl, mode, 200);
      const probe = await run(alg, impl, mode, 200);
      if (probe === null) continue;
      sizes[impl] = Math.max(200, Math.round((200 / probe.seconds) * (SECONDS / ROUNDS)));
    }
    const rates = Object.fromEntries(Object.keys(sizes).map((impl) => [impl, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const [impl, n] of Object.entries(sizes)) rates[impl].push(n / (await run(alg, impl, mode, n)).seconds);
    }
    return Object.fromEntries(Object.entries(rates).map(([impl, xs]) => [impl, xs.sort((a, b) => a - b)[xs.length >> 1]]));
  };
  for (const alg of ['HS256', 'ES256', 'EdDSA']) {
    for (const mode of ['sequential', '64 in flight']) {
      const { jose: joseOps, ours: oursOps, cached: cachedOps, subtle: subtleOps, ceiling: ceilingOps } = await measure(alg, mode);
      const counts = (await run(alg, 'subtle', mode, 1))?.counts ?? null;
      console.log(JSON.stringify({
        bench: 'jwt-chromium', alg, mode, jose_ops: Math.round(joseOps), ours_ops: Math.round(oursOps),
        ratio: +(oursOps / joseOps).toFixed(3),
        cached_ops: Math.round(cachedOps), cached_ratio: +(cachedOps / joseOps).toFixed(3), subtle_ops: subtleOps && Math.round(subtleOps),
        subtle_ratio: subtleOps && +(subtleOps / joseOps).toFixed(3), webcrypto_checks: counts?.[0] ?? null,
        ceiling_ops: Math.round(ceilingOps), jose_ceiling_ratio: +(joseOps / ceilingOps).toFixed(3),
        browser: /Chrome\/[\d.]+/.exec(version)?.[0],
      }));
    }
  }
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
