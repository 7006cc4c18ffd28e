// The JWT conformance vectors in Chromium (Debian's, through playwright-core with the launch flags
// of www/tests/pages.test.mjs): every case through the page's WebCrypto and through pure Rust in
// wasm must give the same outcome, and the expected one. Needs the bench binding built for the
// web (scripts/test.sh builds it):
//   wasm-bindgen --target web --out-dir target/webcrypto-test/web-pkg --out-name portcullis_bench <wasm>
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const dir = process.env.PORTCULLIS_BENCH_WEB_PKG ?? new URL('../../target/webcrypto-test/web-pkg', import.meta.url).pathname;
const vectors = readFileSync(new URL('../vectors/jwt.json', import.meta.url));
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const files = {
  '/': ['text/html', '<!doctype html><title>vectors</title>'],
  '/jwt.json': ['application/json', vectors],
  '/portcullis_bench.js': ['text/javascript', readFileSync(join(dir, 'portcullis_bench.js'))],
  '/portcullis_bench_bg.wasm': ['application/wasm', readFileSync(join(dir, 'portcullis_bench_bg.wasm'))],
};
// The binding's JavaScript snippets (crates/js/js), which its module imports.
for (const file of readdirSync(join(dir, 'snippets'), { recursive: true }).filter((f) => f.endsWith('.js'))) {
  files[`/snippets/${file}`] = ['text/javascript', readFileSync(join(dir, 'snippets', file))];
}
let server, context, profile, base;

before(async () => {
  server = createServer((req, res) => {
    const file = files[new URL(req.url, 'http://x').pathname];
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file[0] }).end(file[1]);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${server.address().port}`;
  profile = mkdtempSync(join(tmpdir(), 'portcullis-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, args: FLAGS, timeout: 60_000,
  });
});

after(async () => {
  await context?.close();
  server?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test('every vector gives the same outcome through Chromium\'s WebCrypto as through pure Rust', async () => {
  const page = await context.newPage();
  await page.goto(`${base}/`);
  const results = await page.evaluate(async () => {
    const binding = await import('/portcullis_bench.js');
    await binding.default({ module_or_path: '/portcullis_bench_bg.wasm' });
    const doc = await (await fetch('/jwt.json')).json();
    const suite = new binding.Conformance(JSON.stringify(doc.keys));
    const out = [];
    for (const c of doc.cases) {
      const text = JSON.stringify(c);
      const split = JSON.parse(await suite.runSplit(text));
      out.push({ c, rust: JSON.parse(await suite.run(text, false)), subtle: JSON.parse(await suite.run(text, true)), split });
    }
    return { out, counts: Array.from(suite.counts()), agent: navigator.userAgent };
  });
  assert.ok(results.out.length >= 90, 'vectors went missing');
  for (const { c, rust, subtle, split } of results.out) {
    assert.deepEqual(subtle, rust, `${c.name}: the providers disagree in ${results.agent}`);
    assert.deepEqual(split, rust, `${c.name}: verified in two steps, WebCrypto disagrees in ${results.agent}`);
    assert.equal(rust.valid, c.expect.valid, `${c.name}: ${rust.error ?? 'accepted'} (${rust.message ?? ''})`);
    if (!c.expect.valid) assert.equal(rust.error, c.expect.error, `${c.name}: ${rust.message}`);
  }
  const [subtleChecks, rustChecks] = results.counts;
  assert.ok(subtleChecks >= 6, `Chromium's WebCrypto checked only ${subtleChecks} signatures (${rustChecks} in Rust)`);
});
