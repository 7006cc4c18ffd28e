// Start-up of the Worker on workerd (Miniflare's, the runtime `wrangler dev` runs): from a new
// Miniflare (a workerd process that loads the script and compiles its wasm) to ready, then the
// first request (ours: `GET /health`, which builds the service: settings, key ring, the D1
// schema check) and a warm one; the same for the bare Worker (bench/bare-worker.mjs), whose
// figures are the floor. ROUNDS rounds, alternating, medians. Local KV and D1 in memory.
// Usage: node bench/worker-start.mjs <worker-bundle-dir>   (prints one JSON line)
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Miniflare } from 'miniflare';
import { bundle, migrations } from './workerd-direct.mjs';

const bundleDir = resolve(process.argv[2] ?? 'target/bench/worker-bundle');
const root = resolve(import.meta.dirname, '..');
const ROUNDS = 5;

const ours = await bundle(`
import * as wasm from '${bundleDir}/index.js';
import { entrypoint } from '${join(root, 'worker/shim.mjs')}';
export default entrypoint(wasm);`);
const wasmBytes = readFileSync(join(bundleDir, 'index_bg.wasm'));
const bare = readFileSync(join(root, 'bench/bare-worker.mjs'), 'utf8');

const options = {
  ours: {
    modules: [
      { type: 'ESModule', path: 'worker.mjs', contents: ours },
      { type: 'CompiledWasm', path: 'index_bg.wasm', contents: wasmBytes },
    ],
    kvNamespaces: ['KV'], d1Databases: ['DB'],
    bindings: {
      PORTCULLIS_ENCRYPTION_KEYS: `dev1:${randomBytes(32).toString('base64')}`,
      PORTCULLIS_BOOTSTRAP_TOKEN: `pc-${randomBytes(16).toString('base64url')}.${randomBytes(16).toString('base64url')}`,
    },
  },
  bare: { modules: [{ type: 'ESModule', path: 'worker.mjs', contents: bare }] },
};

async function once(name) {
  const started = performance.now();
  const mf = new Miniflare({ ...options[name], compatibilityDate: '2026-04-20' });
  try {
    await mf.ready;
    const ready = performance.now();
    if (name === 'ours') {
      const db = await mf.getD1Database('DB');
      for (const sql of migrations()) await db.exec(sql);
    }
    const t0 = performance.now();
    const first = await mf.dispatchFetch('http://worker/health');
    await first.arrayBuffer();
    const t1 = performance.now();
    const warm = await mf.dispatchFetch('http://worker/health');
    await warm.arrayBuffer();
    const t2 = performance.now();
    if (first.status !== 200 || warm.status !== 200) throw new Error(`${name}: /health answered ${first.status}, ${warm.status}`);
    return { ready_ms: ready - started, first_ms: t1 - t0, warm_ms: t2 - t1 };
  } finally {
    await mf.dispose();
  }
}

const runs = { ours: [], bare: [] };
for (let round = 0; round < ROUNDS; round++) for (const name of ['bare', 'ours']) runs[name].push(await once(name));
const median = (list, key) => +list.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(list.length / 2)].toFixed(1);
const line = { bench: 'start-workerd', rounds: ROUNDS, wasm_bytes: wasmBytes.length };
for (const [name, list] of Object.entries(runs)) {
  for (const key of ['ready_ms', 'first_ms', 'warm_ms']) line[`${name}_${key}`] = median(list, key);
}
console.log(JSON.stringify(line));
